//! The JSON format: the plan itself, serialized as the versioned document
//! `clawops.plan/v1` (see `docs/plan.md`), after [`redact`](super::redact).

use crate::plan::{PLAN_FORMAT, Plan};

use super::redact;

/// Renders the plan as a pretty-printed JSON document whose `format` is
/// [`PLAN_FORMAT`].
pub fn json(plan: &Plan) -> String {
    let mut plan = redact(plan).into_owned();
    plan.format = PLAN_FORMAT.to_owned();
    // A plan holds only strings, numbers and string-keyed structures, which always
    // serialize; the fallback is still a valid document that says what went wrong.
    serde_json::to_string_pretty(&plan).unwrap_or_else(|error| {
        serde_json::json!({ "format": PLAN_FORMAT, "error": error.to_string() }).to_string()
    }) + "\n"
}
