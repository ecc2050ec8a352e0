//! The CRD validator of the test support checks objects as a strict API server would: a
//! minimal object of each kind passes; unknown fields, wrong enum values, missing required
//! fields and bad patterns fail, each named by its JSON path.

mod hiclaw_support;
mod support;

use hiclaw_support::crds::validate;
use serde_json::{Value, json};

fn object(kind: &str, spec: Value) -> Value {
    json!({
        "apiVersion": "hiclaw.io/v1beta1",
        "kind": kind,
        "metadata": {"name": "probe", "namespace": "hiclaw", "labels": {"hiclaw.io/controller": "c"}},
        "spec": spec,
    })
}

/// The problems of an object that must be refused.
fn problems(object: &Value) -> Vec<String> {
    match validate(object) {
        Ok(()) => panic!("accepted: {object:#}"),
        Err(problems) => problems,
    }
}

/// Whether some problem is about `path` and says `what`.
fn names(problems: &[String], path: &str, what: &str) -> bool {
    problems
        .iter()
        .any(|problem| problem.starts_with(&format!("{path}: ")) && problem.contains(what))
}

#[test]
fn a_minimal_object_of_each_kind_passes() {
    let minimal = [
        object("Worker", json!({"model": "m"})),
        object("Team", json!({"leader": {"name": "lead"}})),
        object(
            "Human",
            json!({"displayName": "Alice", "permissionLevel": 1}),
        ),
        object("Manager", json!({"model": "m"})),
    ];
    for object in &minimal {
        assert_eq!(validate(object), Ok(()), "{object:#}");
    }
}

#[test]
fn an_unknown_field_is_named_by_its_path() {
    let found = problems(&object("Worker", json!({"model": "m", "modle": "m"})));
    assert!(
        names(&found, "/spec/modle", "unknown field `modle`"),
        "{found:?}"
    );
    // The Team CRD has no containerManaged for its workers.
    let team = object(
        "Team",
        json!({"leader": {"name": "lead"}, "workers": [{"name": "w", "model": "m", "containerManaged": false}]}),
    );
    let found = problems(&team);
    assert!(
        names(&found, "/spec/workers/0/containerManaged", "unknown field"),
        "{found:?}"
    );
    let mut top = object("Human", json!({"displayName": "A", "permissionLevel": 1}));
    top["extra"] = json!(1);
    assert!(names(&problems(&top), "/extra", "unknown field"));
}

#[test]
fn a_wrong_enum_value_is_named_by_its_path() {
    let found = problems(&object("Worker", json!({"model": "m", "state": "Asleep"})));
    assert!(names(&found, "/spec/state", "\"Asleep\""), "{found:?}");
    assert_eq!(found.len(), 1, "{found:?}");
}

#[test]
fn a_missing_required_field_is_named_by_its_path() {
    let found = problems(&object("Manager", json!({"runtime": "copaw"})));
    assert!(
        names(&found, "/spec/model", "required field is missing"),
        "{found:?}"
    );
    let mut nameless = object("Worker", json!({"model": "m"}));
    nameless["metadata"] = json!({"labels": {}});
    assert!(names(&problems(&nameless), "/metadata/name", "required"));
}

#[test]
fn a_bad_remote_skill_source_is_named_by_its_path() {
    let spec = json!({"model": "m", "remoteSkills": [{"source": "https://skills.example/x", "skills": [{"name": "s"}]}]});
    let found = problems(&object("Worker", spec));
    assert!(
        names(&found, "/spec/remoteSkills/0/source", "nacos://"),
        "{found:?}"
    );
}

#[test]
fn maps_and_preserved_objects_stay_open_but_typed() {
    let spec = json!({
        "model": "m",
        "env": {"GREETING": "hello"},
        "labels": {"tier": "gold"},
        "accessEntries": [{"service": "object-storage", "permissions": ["read", "list"],
                           "scope": {"prefixes": ["agents/dev/"], "anything": true}}],
    });
    assert_eq!(validate(&object("Worker", spec)), Ok(()));
    let bad_key = object("Worker", json!({"model": "m", "env": {"1BAD": "x"}}));
    assert!(names(&problems(&bad_key), "/spec/env", "1BAD"));
    let bad_email = object(
        "Human",
        json!({"displayName": "A", "permissionLevel": 1, "email": "nope"}),
    );
    assert!(names(&problems(&bad_email), "/spec/email", "email"));
}

#[test]
fn the_envelope_is_checked() {
    let mut wrong_version = object("Worker", json!({"model": "m"}));
    wrong_version["apiVersion"] = json!("agentteams.io/v1beta1");
    assert!(names(
        &problems(&wrong_version),
        "/apiVersion",
        "hiclaw.io/v1beta1"
    ));
    let unknown = object("DebugWorker", json!({"targets": ["a"]}));
    assert!(names(&problems(&unknown), "/kind", "DebugWorker"));
}

/// The objects the hiclaw target writes for the example fleet: Humans, each Team with its
/// members inline, every Worker (the DebugWorker realized as one) and the Manager.
fn example_objects() -> Vec<Value> {
    use clawops::desired::hiclaw::retarget;
    use clawops::source::{self, SourceOptions};
    let folder = concat!(env!("CARGO_MANIFEST_DIR"), "/examples/hiclaw-fleet");
    let snapshot = source::read(&SourceOptions::new(folder)).expect("the example is readable");
    let checked = clawops::spec::check(&snapshot);
    assert!(checked.is_valid(), "{:#?}", checked.diagnostics);
    let mut desired = clawops::desired::resolve(&checked.spec);
    retarget(&checked.spec, &mut desired);
    clawops::backend::hiclaw::objects::desired_objects(&desired, "hiclaw", "hiclaw-controller")
}

/// Every object of a `render` YAML stream that is invalid by upstream's CRDs.
fn refused(objects: &[Value]) -> Vec<String> {
    objects
        .iter()
        .filter_map(|object| {
            validate(object).err().map(|problems| {
                format!(
                    "{} {}: {problems:?}",
                    object["kind"], object["metadata"]["name"]
                )
            })
        })
        .collect()
}

#[test]
fn the_example_fleet_as_the_hiclaw_target_writes_it_is_valid() {
    let objects = example_objects();
    assert_eq!(
        objects.len(),
        3 + 1 + 2 + 3,
        "workers and the debug worker, manager, teams, humans"
    );
    let refused = refused(&objects);
    assert!(refused.is_empty(), "{refused:#?}");
}

#[test]
fn render_backend_hiclaw_prints_only_objects_upstream_accepts() {
    let output = support::clawops()
        .args(["render", "--backend", "hiclaw"])
        .arg(support::example("hiclaw-fleet"))
        .output()
        .expect("clawops runs");
    assert!(output.status.success(), "{output:?}");
    let stream = String::from_utf8(output.stdout).expect("utf-8");
    let objects: Vec<Value> = stream
        .split("---\n")
        .filter(|document| !document.trim().is_empty())
        .map(|document| serde_saphyr::from_str(document).expect("a YAML object"))
        .collect();
    let kinds: Vec<&str> = objects
        .iter()
        .filter_map(|object| object["kind"].as_str())
        .collect();
    assert_eq!(
        kinds,
        [
            "Human", "Human", "Human", "Team", "Team", "Worker", "Worker", "Worker", "Manager"
        ]
    );
    let refused = refused(&objects);
    assert!(refused.is_empty(), "{refused:#?}");
    // What a HiClaw controller reads to own them.
    assert!(objects.iter().all(|object| {
        object["metadata"]["namespace"] == "hiclaw"
            && object["metadata"]["labels"]["hiclaw.io/controller"] == "hiclaw-controller"
    }));
}

/// Whether every field of `written` is in `rendered` with the same value (objects may
/// gain defaulted fields; arrays keep their length and order).
fn carries(written: &Value, rendered: &Value, path: &str, missing: &mut Vec<String>) {
    match (written, rendered) {
        (Value::Object(fields), Value::Object(rendered_fields)) => {
            for (key, value) in fields {
                match rendered_fields.get(key) {
                    Some(inner) => carries(value, inner, &format!("{path}/{key}"), missing),
                    None => missing.push(format!("{path}/{key}: dropped")),
                }
            }
        }
        (Value::Array(items), Value::Array(rendered_items))
            if items.len() == rendered_items.len() =>
        {
            for (index, (item, rendered_item)) in items.iter().zip(rendered_items).enumerate() {
                carries(item, rendered_item, &format!("{path}/{index}"), missing);
            }
        }
        _ if written == rendered => {}
        _ => missing.push(format!("{path}: {written} became {rendered}")),
    }
}

#[test]
fn upstream_files_render_unchanged_and_valid() {
    let folder = support::project_root().join("tests/fixtures/hiclaw-upstream");
    let output = support::clawops()
        .args(["render", "--backend", "hiclaw"])
        .arg(&folder)
        .output()
        .expect("clawops runs");
    assert!(output.status.success(), "{output:?}");
    let stream = String::from_utf8(output.stdout).expect("utf-8");
    let rendered: Vec<Value> = stream
        .split("---\n")
        .filter(|document| !document.trim().is_empty())
        .map(|document| serde_saphyr::from_str(document).expect("a YAML object"))
        .collect();
    let refused = refused(&rendered);
    assert!(refused.is_empty(), "{refused:#?}");
    let mut missing = Vec::new();
    for file in ["worker.yaml", "team.yaml", "human.yaml", "manager.yaml"] {
        let text = std::fs::read_to_string(folder.join(file)).expect("fixture file");
        let written: Value = serde_saphyr::from_str(&text).expect("fixture YAML");
        let object = rendered
            .iter()
            .find(|object| {
                object["kind"] == written["kind"]
                    && object["metadata"]["name"] == written["metadata"]["name"]
            })
            .unwrap_or_else(|| panic!("{file} was not rendered:\n{stream}"));
        carries(&written["spec"], &object["spec"], file, &mut missing);
    }
    assert!(missing.is_empty(), "{missing:#?}\n{stream}");
}
