//! Tests of the three plan formats: snapshots of hand-built plans, the large-plan
//! summaries, the markdown size limit and the secret scan.

mod fixtures;

use fixtures::{
    PlanBuilder, distinct_everything, every_change, field, identical_recreates, kept_agent,
    no_changes,
};

use super::outline::{self, shorten_pair};
use super::*;
use crate::plan::{Cause, Op, PLAN_FORMAT};

#[test]
fn text_every_change() {
    insta::assert_snapshot!(text(&every_change(), false));
}

#[test]
fn markdown_every_change() {
    insta::assert_snapshot!(markdown(&every_change()));
}

#[test]
fn json_every_change() {
    insta::assert_snapshot!(json(&every_change()));
}

#[test]
fn text_kept_agent() {
    insta::assert_snapshot!(text(&kept_agent(), false));
}

#[test]
fn markdown_kept_agent() {
    insta::assert_snapshot!(markdown(&kept_agent()));
}

#[test]
fn text_no_changes() {
    insta::assert_snapshot!(text(&no_changes(), false));
}

#[test]
fn markdown_no_changes() {
    insta::assert_snapshot!(markdown(&no_changes()));
}

#[test]
fn no_changes_is_one_sentence_naming_the_commit() {
    assert_eq!(
        text(&no_changes(), false),
        "No changes. The fleet matches 1a2b3c4 (11 agents).\n"
    );
}

#[test]
fn summary_line_has_the_promised_shape() {
    let summary = Summary {
        create: 2,
        recreate: 10,
        update: 3,
        unchanged: 11,
        ..Summary::default()
    };
    assert_eq!(
        summary_line(&summary),
        "Plan: 2 to create, 10 to recreate, 3 to update in place, 0 to delete (11 unchanged)."
    );
    let summary = Summary {
        sleep: 1,
        wake: 1,
        remove: 1,
        delete: 2,
        kept: 4,
        ..summary
    };
    assert_eq!(
        summary_line(&summary),
        "Plan: 2 to create, 10 to recreate, 3 to update in place, 1 to sleep, 1 to wake, \
         3 to delete (11 unchanged, 4 kept)."
    );
}

#[test]
fn every_step_line_names_its_agent_and_cause() {
    let rendered = text(&every_change(), false);
    assert!(rendered.contains(
        "  -/+ hiclaw-worker-alpha-dev  recreate: image: …/hiclaw-worker:v1.1.2 → v1.2.0\n"
    ));
    assert!(
        rendered.contains("    ^ hiclaw-worker-sleepy  wake: drift: stopped outside clawops\n")
    );
    assert!(rendered.contains("    z hiclaw-worker-night  sleep: state: Running → Sleeping\n"));
    assert!(rendered.contains("    - hiclaw-worker-retired  remove: state: Stopped\n"));
    assert!(
        !rendered.contains("healthy within"),
        "gates belong to the rollout"
    );
}

#[test]
fn kept_agents_say_how_to_delete_them() {
    let rendered = text(&kept_agent(), false);
    assert!(rendered.contains(
        "    ! hiclaw-worker-x  not managed by git any more, kept (enable [prune] to delete)\n"
    ));
    assert!(rendered.ends_with("(4 unchanged, 1 kept).\n"));
}

#[test]
fn deletes_come_last_whatever_the_step_order() {
    let mut builder = PlanBuilder::new();
    builder.wave();
    builder.step(
        Op::DeleteAgent,
        "hiclaw-worker-gone",
        "deletes",
        vec![Cause::GoneFromGit],
    );
    builder.step(
        Op::CreateAgent,
        "hiclaw-worker-new",
        "standalone",
        vec![Cause::NewAgent],
    );
    let rendered = text(&builder.build(), false);
    let deletes = rendered.find("deletes:").unwrap();
    let standalone = rendered.find("standalone:").unwrap();
    assert!(standalone < deletes, "{rendered}");
}

#[test]
fn file_changes_are_indented_unified_diffs_with_three_lines_of_context() {
    let rendered = text(&every_change(), false);
    let diff = "      --- SOUL.md\n      +++ SOUL.md\n      @@ -1,7 +1,7 @@\n       # Soul\n";
    assert!(rendered.contains(diff), "{rendered}");
    assert!(rendered.contains("      -Be concise.\n      +Be concise and kind.\n"));
    assert!(rendered.contains("      --- /dev/null\n      +++ AGENTS.md\n"));
}

#[test]
fn colour_only_when_asked() {
    let plain = text(&every_change(), false);
    assert!(!plain.contains('\u{1b}'));
    let coloured = text(&every_change(), true);
    assert!(coloured.contains("\u{1b}[32m+\u{1b}[0m hiclaw-worker-scout"));
    assert!(coloured.contains("\u{1b}[31m-/+\u{1b}[0m hiclaw-worker-alpha-dev"));
    assert!(coloured.contains("\u{1b}[33m~\u{1b}[0m hiclaw-worker-alpha-lead"));
    assert!(coloured.contains("\u{1b}[36mz\u{1b}[0m hiclaw-worker-night"));
    assert!(coloured.contains("\u{1b}[36m^\u{1b}[0m hiclaw-worker-morning"));
    assert!(coloured.contains("\u{1b}[31m-\u{1b}[0m hiclaw-worker-old-1"));
}

#[test]
fn control_characters_from_the_repository_are_escaped() {
    let mut builder = PlanBuilder::new();
    builder.wave();
    builder.step(
        Op::RecreateAgent,
        "hiclaw-worker-a",
        "standalone",
        vec![
            field("labels.note", Some("plain"), Some("\u{1b}[2Jcleared\nnext")),
            fixtures::file("SOUL.md", Some("a\n"), Some("\u{1b}[31mred\n")),
        ],
    );
    let plan = builder.build();
    for rendered in [text(&plan, false), markdown(&plan)] {
        assert!(!rendered.contains('\u{1b}'), "{rendered}");
        assert!(rendered.contains("\\u{1b}[2Jcleared\\nnext"), "{rendered}");
    }
}

#[test]
fn image_pairs_lose_their_common_prefix() {
    let shortened = |before: &str, after: &str| shorten_pair(before, after);
    assert_eq!(
        shortened(
            "r.io/hiclaw/hiclaw-worker:v1.1.2",
            "r.io/hiclaw/hiclaw-worker:v1.2.0"
        ),
        ("…/hiclaw-worker:v1.1.2".to_owned(), "v1.2.0".to_owned())
    );
    assert_eq!(
        shortened(
            "r.io/hiclaw/hiclaw-worker:v1",
            "r.io/hiclaw/copaw-worker:v1"
        ),
        (
            "…/hiclaw-worker:v1".to_owned(),
            "copaw-worker:v1".to_owned()
        )
    );
    assert_eq!(
        shortened("worker:v1", "worker:v2"),
        ("worker:v1".to_owned(), "v2".to_owned())
    );
    assert_eq!(
        shortened("alpine", "busybox"),
        ("alpine".to_owned(), "busybox".to_owned())
    );
}

#[test]
fn identical_lines_in_a_group_are_summarised() {
    let rendered = text(&identical_recreates(2, 11), false);
    assert!(rendered.contains(
        "  -/+ 11 agents (hiclaw-worker-team-0001-w00 … hiclaw-worker-team-0001-w10)  \
         recreate: image: …/hiclaw-worker:v1.1.2 → v1.2.0\n"
    ));
    let few = text(&identical_recreates(1, 4), false);
    assert!(few.contains("  -/+ hiclaw-worker-team-0001-w03  recreate: image:"));
}

#[test]
fn a_fleet_of_eleven_thousand_identical_recreates_stays_short() {
    let plan = identical_recreates(1000, 11);
    let rendered = text(&plan, false);
    assert!(rendered.lines().count() < 200, "{rendered}");
    assert!(rendered.contains(
        "1000 groups with the same changes (team-0001 … team-1000): 11 to recreate each\n\
         \x20 -/+ 11 agents each  recreate: image: …/hiclaw-worker:v1.1.2 → v1.2.0\n"
    ));
    assert!(rendered.contains(
        "  waves 1–1000 (team-0001 … team-1000): start 11 agents each, then wait healthy (90s)\n"
    ));
    assert!(rendered.ends_with(&format!("{}\n", summary_line(&plan.summary))));
    assert!(rendered.contains("11000 to recreate"));
}

#[test]
fn twenty_groups_are_shown_one_by_one() {
    let rendered = text(&identical_recreates(20, 2), false);
    assert!(!rendered.contains("groups with the same changes"));
    assert!(rendered.contains("team-0020: 2 to recreate\n"));
    assert!(rendered.contains("  wave 20 (team-0020): start "));
}

#[test]
fn waves_with_different_timeouts_wait_for_the_longest() {
    let rendered = text(&every_change(), false);
    assert!(rendered.contains(
        "  wave 2 (standalone): start 6 agents (hiclaw-worker-scout … hiclaw-worker-lost), \
         then wait healthy (up to 120s); 2 to sleep, 1 to delete\n"
    ));
    assert!(
        rendered.contains("  wave 5 (manager): start hiclaw-manager, then wait healthy (180s)\n")
    );
}

#[test]
fn markdown_starts_with_the_marker_and_the_bold_summary() {
    let plan = every_change();
    let rendered = markdown(&plan);
    let mut lines = rendered.lines();
    assert_eq!(lines.next(), Some(MARKDOWN_MARKER));
    assert_eq!(
        lines.next(),
        Some(format!("**{}**", summary_line(&plan.summary)).as_str())
    );
    assert!(
        rendered.contains("<summary><b>alpha</b>: 2 to recreate, 1 to update in place</summary>")
    );
    assert!(rendered.contains("```diff\n--- SOUL.md\n+++ SOUL.md\n"));
}

#[test]
fn markdown_fences_outgrow_backticks_in_the_content() {
    let mut builder = PlanBuilder::new();
    builder.wave();
    builder.step(
        Op::PushConfig,
        "hiclaw-worker-a",
        "standalone",
        vec![fixtures::file(
            "README.md",
            Some("```\nold\n```\n"),
            Some("````\nnew\n````\n"),
        )],
    );
    let rendered = markdown(&builder.build());
    assert!(rendered.contains("`````diff\n"), "{rendered}");
}

#[test]
fn markdown_drops_diffs_first() {
    let mut builder = PlanBuilder::new();
    builder.wave();
    for index in 0..40 {
        let body: String = (0..200)
            .map(|line| format!("agent {index} line {line}\n"))
            .collect();
        builder.step(
            Op::PushConfig,
            &format!("hiclaw-worker-w{index:02}"),
            "standalone",
            vec![fixtures::file("SOUL.md", None, Some(&body))],
        );
    }
    let rendered = markdown(&builder.build());
    assert!(rendered.len() <= MARKDOWN_BUDGET);
    assert!(rendered.contains("_Diffs are left out"));
    assert!(!rendered.contains("```diff"));
    assert!(rendered.contains(
        "    ~ 40 agents (hiclaw-worker-w00 … hiclaw-worker-w39)  update in place: SOUL.md: new file\n"
    ));
}

#[test]
fn markdown_of_eleven_thousand_identical_recreates_is_complete() {
    let plan = identical_recreates(1000, 11);
    let rendered = markdown(&plan);
    assert!(rendered.len() <= MARKDOWN_BUDGET);
    assert!(!rendered.contains("not shown"));
    assert!(rendered.contains(&summary_line(&plan.summary)));
}

#[test]
fn markdown_of_eleven_thousand_distinct_agents_stays_below_the_comment_limit() {
    let plan = distinct_everything();
    let rendered = markdown(&plan);
    assert!(rendered.len() < 65_536, "{} bytes", rendered.len());
    assert!(rendered.starts_with(MARKDOWN_MARKER));
    assert!(rendered.contains(&format!("**{}**", summary_line(&plan.summary))));
    assert!(
        rendered.contains("more groups not shown; run clawops plan locally for the full plan._")
    );
    assert!(rendered.contains("<summary><b>team-0001</b>"));
    assert!(rendered.contains("<summary><b>Rollout</b>: 1000 waves</summary>"));
}

#[test]
fn secrets_never_reach_any_format() {
    let secret = "hunter2-planted-secret";
    let mut builder = PlanBuilder::new();
    builder.wave();
    builder.step(
        Op::RecreateAgent,
        "hiclaw-worker-a",
        "standalone",
        vec![
            field(
                "env.GITHUB_TOKEN",
                Some(secret),
                Some(&format!("{secret}-new")),
            ),
            field("env.db_password", None, Some(secret)),
            field("env.API_KEY.value", Some(secret), None),
            field("env.LOG_LEVEL", Some("info"), Some("debug")),
            Cause::SensitiveChanged {
                path: "env.OPENAI_CREDENTIAL".to_owned(),
            },
        ],
    );
    let plan = builder.build();
    let outputs = [
        text(&plan, false),
        text(&plan, true),
        markdown(&plan),
        json(&plan),
    ];
    for rendered in &outputs {
        assert!(!rendered.contains(secret), "{rendered}");
        assert!(
            rendered.contains("env.GITHUB_TOKEN: (sensitive value changed)")
                || rendered.contains("\"path\": \"env.GITHUB_TOKEN\"")
        );
        assert!(rendered.contains("debug"), "other values stay visible");
    }
    let distinct = distinct_everything();
    for rendered in [text(&distinct, false), markdown(&distinct), json(&distinct)] {
        assert!(!rendered.contains("-w00-old"));
    }
}

#[test]
fn credentials_in_values_never_reach_any_format() {
    let mut builder = PlanBuilder::new();
    builder.wave();
    builder.step(
        Op::RecreateAgent,
        "hiclaw-worker-a",
        "standalone",
        vec![
            field(
                "env.DATABASE_URL",
                Some("postgres://app:pw-4242@db/x"),
                Some("postgres://db2/x"),
            ),
            field(
                "env.WEBHOOK",
                None,
                Some("https://hooks.example.com/in?access_token=tok-4242"),
            ),
            field(
                "env.MIRROR.value",
                Some("https://tok-4242@git.example.com/x"),
                None,
            ),
            field("env.LOG_LEVEL", Some("info"), Some("debug")),
        ],
    );
    let plan = builder.build();
    for rendered in [
        text(&plan, false),
        text(&plan, true),
        markdown(&plan),
        json(&plan),
    ] {
        assert!(!rendered.contains("4242"), "{rendered}");
        assert!(
            !rendered.contains("db2"),
            "the whole value is hidden: {rendered}"
        );
        for path in ["env.DATABASE_URL", "env.WEBHOOK", "env.MIRROR.value"] {
            assert!(
                rendered.contains(&format!("{path}: (sensitive value changed)"))
                    || rendered.contains(&format!("\"path\": \"{path}\"")),
                "{path}: {rendered}"
            );
        }
        assert!(rendered.contains("debug"), "other values stay visible");
    }
}

#[test]
fn redact_borrows_a_plan_without_secret_fields() {
    assert!(matches!(
        redact(&kept_agent()),
        std::borrow::Cow::Borrowed(_)
    ));
}

#[test]
fn json_is_the_versioned_plan() {
    let plan = every_change();
    let document: serde_json::Value = serde_json::from_str(&json(&plan)).unwrap();
    assert_eq!(document["format"], PLAN_FORMAT);
    assert_eq!(
        document["revision"]["commit"],
        "1a2b3c4d5e6f708192a3b4c5d6e7f8091a2b3c4d"
    );
    let parsed: Plan = serde_json::from_value(document).unwrap();
    assert_eq!(parsed, plan);
}

#[test]
fn group_counts_count_like_the_summary() {
    let plan = every_change();
    let counted = outline::count(plan.steps.iter().map(|step| step.op));
    assert_eq!(
        Summary {
            unchanged: 11,
            ..counted
        },
        plan.summary
    );
}

#[test]
fn a_delete_that_takes_the_workspace_says_so() {
    let mut builder = PlanBuilder::new();
    builder.wave();
    let kept = builder.step(
        Op::DeleteAgent,
        "hiclaw-worker-old-1",
        "deletes",
        vec![Cause::GoneFromGit],
    );
    let gone = builder.step(
        Op::DeleteAgent,
        "hiclaw-worker-old-2",
        "deletes",
        vec![Cause::GoneFromGit],
    );
    builder.plan_mut().steps[gone].delete_workspace = true;
    let plan = builder.build();
    let shown = text(&plan, false);
    assert!(
        shown.contains("hiclaw-worker-old-2  delete with its workspace: not managed by git"),
        "{shown}"
    );
    assert!(
        shown.contains("hiclaw-worker-old-1  delete: not managed by git"),
        "{shown}"
    );
    assert!(!plan.steps[kept].delete_workspace);
}
