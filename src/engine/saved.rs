//! Saved plans (`clawops plan --out FILE`, `clawops apply --plan FILE`): read back and
//! checked to be a plan this clawops writes. Whether it still fits the commit and the
//! fleet is checked under the lock, and the plan re-derived ([`super::reconcile::verify_saved`]).

use std::path::{Path, PathBuf};

use crate::plan::{PLAN_FORMAT, Plan};

/// Why a saved plan cannot be used.
#[derive(Debug, thiserror::Error, miette::Diagnostic)]
pub enum SavedPlanError {
    /// The file could not be read.
    #[error("could not read the plan {}", .path.display())]
    #[diagnostic(code(clawops::plan::read_saved))]
    ReadPlan {
        /// The file.
        path: PathBuf,
        /// Why.
        #[source]
        source: std::io::Error,
    },
    /// The file is not JSON of a plan.
    #[error("{} is not a clawops plan", .path.display())]
    #[diagnostic(
        code(clawops::plan::parse_saved),
        help("save a plan with `clawops plan SOURCE --format json --out FILE`")
    )]
    ParsePlan {
        /// The file.
        path: PathBuf,
        /// Why.
        #[source]
        source: serde_json::Error,
    },
    /// The plan is of another format version.
    #[error("{} is a {found} plan; this clawops reads {PLAN_FORMAT}", .path.display())]
    #[diagnostic(code(clawops::plan::saved_format))]
    CheckFormat {
        /// The file.
        path: PathBuf,
        /// The format it names.
        found: String,
    },
    /// The plan could not be written.
    #[error("could not save the plan to {}", .path.display())]
    #[diagnostic(code(clawops::plan::write_saved))]
    WritePlan {
        /// The file.
        path: PathBuf,
        /// Why.
        #[source]
        source: std::io::Error,
    },
}

/// Reads the plan saved at `path`.
pub fn read(path: &Path) -> Result<Plan, SavedPlanError> {
    let text = std::fs::read_to_string(path).map_err(|source| SavedPlanError::ReadPlan {
        path: path.to_owned(),
        source,
    })?;
    let plan: Plan = serde_json::from_str(&text).map_err(|source| SavedPlanError::ParsePlan {
        path: path.to_owned(),
        source,
    })?;
    if plan.format != PLAN_FORMAT {
        return Err(SavedPlanError::CheckFormat {
            path: path.to_owned(),
            found: plan.format,
        });
    }
    Ok(plan)
}

/// Saves `plan` as JSON at `path`.
pub fn write(path: &Path, plan: &Plan) -> Result<(), SavedPlanError> {
    std::fs::write(path, crate::render::json(plan)).map_err(|source| SavedPlanError::WritePlan {
        path: path.to_owned(),
        source,
    })
}
