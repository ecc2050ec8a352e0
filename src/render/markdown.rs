//! The markdown format for pull-request comments: a hidden marker line, the summary, a
//! table of counts, a `<details>` section per group and the rollout waves, always below
//! GitHub's comment size limit.
//!
//! When the full rendering is too long, the comment gives up detail in this order: the
//! diffs, then the agent names (identical lines and groups are counted), then whole groups
//! at the end (with a note saying how many are not shown).

use crate::plan::{Plan, Summary};

use super::outline::{self, GroupBlock, OutlineOptions};
use super::{header_line, mass_deletion_line, no_changes_line, redact, summary_line};

/// The first line of every markdown plan; the GitHub Action finds its comment by it.
pub const MARKDOWN_MARKER: &str = "<!-- clawops-plan -->";

/// The most bytes a markdown plan takes: below GitHub's 65,536-character comment limit
/// (bytes are never fewer than characters), with room for what the Action adds.
pub const MARKDOWN_BUDGET: usize = 64_000;

/// Everything, as in the text format.
const FULL: OutlineOptions = OutlineOptions {
    summarise_at: 5,
    collapse_groups_over: 20,
    diffs: true,
    description_limit: None,
};

/// Without the diffs.
const WITHOUT_DIFFS: OutlineOptions = OutlineOptions {
    diffs: false,
    ..FULL
};

/// Identical lines and identical groups counted, long descriptions cut.
const COUNTED: OutlineOptions = OutlineOptions {
    summarise_at: 2,
    collapse_groups_over: 0,
    diffs: false,
    description_limit: Some(300),
};

const DIFFS_NOTE: &str = "_Diffs are left out to stay below GitHub's comment size limit; \
                          run `clawops plan` locally to see them._";
const COUNTED_NOTE: &str = "_Agents with the same changes are counted rather than named, \
                            to stay below GitHub's comment size limit._";

/// Waves shown once agents are counted rather than named.
const COUNTED_WAVES: usize = 40;

/// Consecutive waves of the same shape share a line once there are more than this many.
const WAVES_COMPRESSED_OVER: usize = 20;

/// Room kept for the note about groups not shown.
const OMITTED_NOTE_ROOM: usize = 200;

/// Renders the plan as a pull-request comment of at most [`MARKDOWN_BUDGET`] bytes.
pub fn markdown(plan: &Plan) -> String {
    let plan = redact(plan);
    let head = head(&plan);
    let attempts: [(&OutlineOptions, &[&str], Option<usize>); 3] = [
        (&FULL, &[], None),
        (&WITHOUT_DIFFS, &[DIFFS_NOTE], None),
        (&COUNTED, &[DIFFS_NOTE, COUNTED_NOTE], Some(COUNTED_WAVES)),
    ];
    for (options, notes, waves_shown) in attempts {
        let sections: Vec<String> = outline::group_blocks(&plan, options)
            .iter()
            .filter_map(|block| group_section(block, options, usize::MAX))
            .map(|(section, _)| section)
            .collect();
        let rollout = rollout_section(&plan, waves_shown);
        let document = assemble(&head, notes, &sections, &rollout, None);
        if document.len() <= MARKDOWN_BUDGET {
            return document;
        }
    }
    truncated(&plan, &head)
}

/// The counted rendering with groups left out at the end until it fits.
fn truncated(plan: &Plan, head: &str) -> String {
    let notes = [DIFFS_NOTE, COUNTED_NOTE];
    let rollout = rollout_section(plan, Some(COUNTED_WAVES));
    let reserved = head.len()
        + notes.iter().map(|note| note.len() + 2).sum::<usize>()
        + rollout.len()
        + OMITTED_NOTE_ROOM;
    let mut budget = MARKDOWN_BUDGET.saturating_sub(reserved);
    let mut sections = Vec::new();
    let mut omitted = 0;
    let mut full = true;
    for block in outline::group_blocks(plan, &COUNTED) {
        let section = (full && omitted == 0)
            .then(|| group_section(&block, &COUNTED, budget))
            .flatten();
        match section {
            Some((section, complete)) => {
                budget -= section.len();
                sections.push(section);
                full = complete;
            }
            None => omitted += block.names.len(),
        }
    }
    let note = format!(
        "_… {omitted} more {} not shown; run clawops plan locally for the full plan._",
        if omitted == 1 { "group" } else { "groups" }
    );
    let document = assemble(head, &notes, &sections, &rollout, Some(&note));
    if document.len() <= MARKDOWN_BUDGET {
        document
    } else {
        let note = "_The plan is too large to show here; run clawops plan locally for the \
                    full plan._";
        assemble(head, &[], &[], "", Some(note))
    }
}

/// Joins the parts of the comment.
fn assemble(
    head: &str,
    notes: &[&str],
    sections: &[String],
    rollout: &str,
    omitted: Option<&str>,
) -> String {
    let mut document = String::from(head);
    for note in notes {
        document.push_str(note);
        document.push_str("\n\n");
    }
    for section in sections {
        document.push_str(section);
    }
    if let Some(omitted) = omitted {
        document.push_str(omitted);
        document.push_str("\n\n");
    }
    document.push_str(rollout);
    while document.ends_with("\n\n") {
        document.pop();
    }
    document
}

/// The marker, the summary line, the mass-deletion warning, the table of counts and the
/// revision compared.
fn head(plan: &Plan) -> String {
    let mut head = format!("{MARKDOWN_MARKER}\n");
    if !plan.summary.has_changes() {
        head.push_str(&format!("**{}**\n\n", escape(&no_changes_line(plan))));
        return head;
    }
    head.push_str(&format!("**{}**\n\n", escape(&summary_line(&plan.summary))));
    if let Some(mass_deletion) = &plan.mass_deletion {
        let warning = escape(&mass_deletion_line(mass_deletion));
        head.push_str(&format!("> [!WARNING]\n> {warning}\n\n"));
    }
    head.push_str(&counts_table(&plan.summary));
    head.push('\n');
    head.push_str(&format!("{}\n\n", escape(&header_line(plan))));
    head
}

/// Counts per change; sleep, wake and kept only when non-zero.
fn counts_table(summary: &Summary) -> String {
    let rows = [
        ("create", summary.create, true),
        ("recreate", summary.recreate, true),
        ("update in place", summary.update, true),
        ("sleep", summary.sleep, false),
        ("wake", summary.wake, false),
        ("delete", summary.delete + summary.remove, true),
        ("kept (not in git)", summary.kept, false),
        ("unchanged", summary.unchanged, true),
    ];
    let mut table = String::from("| Change | Agents |\n|:--|--:|\n");
    for (change, count, always) in rows {
        if always || count > 0 {
            table.push_str(&format!("| {change} | {count} |\n"));
        }
    }
    table
}

/// A group's `<details>` section: its steps in a text block, then each diff in a `diff`
/// block. With a byte budget, lines at the end are left out to fit (with a line saying
/// so, and `false` for complete); `None` when not even the title and one line fit.
fn group_section(
    block: &GroupBlock,
    options: &OutlineOptions,
    budget: usize,
) -> Option<(String, bool)> {
    let several_groups = block.names.len() > 1;
    let lines: Vec<String> = block
        .entries
        .iter()
        .flat_map(|entry| {
            let marker = outline::padded_marker(entry.op);
            outline::entry_lines(entry, several_groups, options, &marker)
        })
        .collect();
    let opening = format!(
        "<details>\n<summary><b>{}</b>: {}</summary>\n\n",
        escape(&block.title()),
        escape(&block.counts_phrase())
    );
    let diffs = diff_blocks(block);
    let closing = "</details>\n\n";
    let fence = fence_for(lines.iter().map(String::as_str));
    let fixed = opening.len() + 2 * (fence.len() + 1) + 5 + diffs.len() + closing.len();
    let mut shown = Vec::new();
    let mut size = fixed;
    let mut complete = true;
    for (index, line) in lines.iter().enumerate() {
        let rest = lines.len() - index;
        let room_for_note = if rest > 1 { 60 } else { 0 };
        if size + line.len() + 1 + room_for_note > budget {
            if index == 0 {
                return None;
            }
            shown.push(format!("  … {rest} more lines not shown"));
            complete = false;
            break;
        }
        size += line.len() + 1;
        shown.push(line.clone());
    }
    let section = format!(
        "{opening}{fence}text\n{}\n{fence}\n\n{diffs}{closing}",
        shown.join("\n")
    );
    (section.len() <= budget).then_some((section, complete))
}

/// The diffs of a block's entries, each as a `diff` block under the agents it is for.
fn diff_blocks(block: &GroupBlock) -> String {
    let mut blocks = String::new();
    for entry in &block.entries {
        let agents = match (block.names.len() > 1, entry.agents.as_slice()) {
            (false, [agent]) => format!("`{agent}`"),
            (false, agents) => outline::agents_count(agents.len()),
            (true, agents) => format!("{} in each group", outline::agents_count(agents.len())),
        };
        for diff in &entry.diffs {
            let fence = fence_for(diff.lines.iter().map(String::as_str));
            blocks.push_str(&format!(
                "`{}` of {agents}:\n\n{fence}diff\n{}\n{fence}\n\n",
                diff.path.replace('`', "'"),
                diff.lines.join("\n")
            ));
        }
    }
    blocks
}

/// The rollout waves in a `<details>` section; `shown` caps the number of lines.
fn rollout_section(plan: &Plan, shown: Option<usize>) -> String {
    let mut lines = outline::wave_lines(plan, WAVES_COMPRESSED_OVER);
    if lines.is_empty() {
        return String::new();
    }
    if let Some(shown) = shown
        && lines.len() > shown
    {
        let more = lines.len() - shown;
        lines.truncate(shown);
        lines.push(format!("… {more} more lines not shown"));
    }
    let waves = plan.waves.len();
    let fence = fence_for(lines.iter().map(String::as_str));
    format!(
        "<details>\n<summary><b>Rollout</b>: {waves} {}</summary>\n\n{fence}text\n{}\n{fence}\n\n</details>\n\n",
        if waves == 1 { "wave" } else { "waves" },
        lines.join("\n")
    )
}

/// A code fence longer than any run of backticks in the content.
fn fence_for<'a>(lines: impl Iterator<Item = &'a str>) -> String {
    let longest = lines
        .flat_map(|line| line.split(|character| character != '`'))
        .map(str::len)
        .max()
        .unwrap_or(0);
    "`".repeat((longest + 1).max(3))
}

/// Makes text from the repository (a commit subject, a fleet or team name) inert in
/// markdown, in a paragraph as in an HTML block such as `<summary>`: `<`, `>` and `&`
/// cannot open HTML, a `]` before `(` or `[` becomes a character reference (markdown shows
/// it as `]` and never reads it as syntax), so no link or image is made, a backslash is
/// shown as itself (so it cannot escape those references), and an `@` gets a zero-width
/// joiner after it, so no one is mentioned (and notified). Emphasis is left alone.
fn escape(text: &str) -> String {
    let mut escaped = String::with_capacity(text.len());
    let mut characters = text.chars().peekable();
    while let Some(character) = characters.next() {
        match character {
            '&' => escaped.push_str("&amp;"),
            '<' => escaped.push_str("&lt;"),
            '>' => escaped.push_str("&gt;"),
            '\\' => escaped.push_str("&#92;"),
            ']' if matches!(characters.peek(), Some('(' | '[')) => escaped.push_str("&#93;"),
            '@' => escaped.push_str("@\u{200d}"),
            other => escaped.push(other),
        }
    }
    escaped
}
