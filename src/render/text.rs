//! The text format: groups with Terraform-like markers, workspace diffs, the rollout waves
//! and the closing summary line. ANSI colour only when asked for.

use crate::plan::{Op, Plan};

use super::outline::{self, Entry, FileDiff, GroupBlock, OutlineOptions};
use super::{header_line, mass_deletion_line, no_changes_line, redact, summary_line};

/// Text gathers five identical lines into one and identical groups once there are more
/// than twenty.
const TEXT_OPTIONS: OutlineOptions = OutlineOptions {
    summarise_at: 5,
    collapse_groups_over: 20,
    diffs: true,
    description_limit: None,
};

/// Consecutive waves of the same shape share a line once there are more than this many.
const WAVES_COMPRESSED_OVER: usize = 20;

/// Indentation of diff lines below their step.
const DIFF_INDENT: &str = "      ";

const GREEN: &str = "\x1b[32m";
const YELLOW: &str = "\x1b[33m";
const RED: &str = "\x1b[31m";
const CYAN: &str = "\x1b[36m";
const BOLD: &str = "\x1b[1m";
const RESET: &str = "\x1b[0m";

/// Renders the plan as text; `colour` adds ANSI colours (for a terminal).
pub fn text(plan: &Plan, colour: bool) -> String {
    let plan = redact(plan);
    let style = Style { colour };
    let blocks = outline::group_blocks(&plan, &TEXT_OPTIONS);
    let mut out = String::new();
    if !plan.summary.has_changes() {
        for block in &blocks {
            write_block(&mut out, block, style);
            out.push('\n');
        }
        out.push_str(&no_changes_line(&plan));
        out.push('\n');
        return out;
    }
    out.push_str(&header_line(&plan));
    out.push_str("\n\n");
    for block in &blocks {
        write_block(&mut out, block, style);
        out.push('\n');
    }
    let waves = outline::wave_lines(&plan, WAVES_COMPRESSED_OVER);
    if !waves.is_empty() {
        out.push_str(&style.bold("Rollout"));
        out.push('\n');
        for wave in waves {
            out.push_str(&format!("  {wave}\n"));
        }
        out.push('\n');
    }
    if let Some(mass_deletion) = &plan.mass_deletion {
        out.push_str(&style.paint(RED, &mass_deletion_line(mass_deletion)));
        out.push_str("\n\n");
    }
    out.push_str(&style.bold(&summary_line(&plan.summary)));
    out.push('\n');
    out
}

/// A group's title line, its entries and their diffs.
fn write_block(out: &mut String, block: &GroupBlock, style: Style) {
    let title = format!("{}: {}", block.title(), block.counts_phrase());
    out.push_str(&style.bold(&title));
    out.push('\n');
    let several_groups = block.names.len() > 1;
    for entry in &block.entries {
        write_entry(out, entry, several_groups, style);
    }
}

/// The entry's lines, then its diffs once.
fn write_entry(out: &mut String, entry: &Entry, several_groups: bool, style: Style) {
    let marker = style.marker(entry.op);
    for line in outline::entry_lines(entry, several_groups, &TEXT_OPTIONS, &marker) {
        out.push_str(&line);
        out.push('\n');
    }
    for diff in &entry.diffs {
        write_diff(out, diff, style);
    }
}

fn write_diff(out: &mut String, diff: &FileDiff, style: Style) {
    for line in &diff.lines {
        let painted = if line.starts_with("+++") || line.starts_with("---") {
            style.bold(line)
        } else if line.starts_with('+') {
            style.paint(GREEN, line)
        } else if line.starts_with('-') {
            style.paint(RED, line)
        } else if line.starts_with("@@") {
            style.paint(CYAN, line)
        } else {
            line.clone()
        };
        out.push_str(format!("{DIFF_INDENT}{painted}").trim_end());
        out.push('\n');
    }
}

/// Whether and how to colour.
#[derive(Clone, Copy, Debug)]
struct Style {
    colour: bool,
}

impl Style {
    fn paint(self, code: &str, text: &str) -> String {
        if self.colour {
            format!("{code}{text}{RESET}")
        } else {
            text.to_owned()
        }
    }

    fn bold(self, text: &str) -> String {
        self.paint(BOLD, text)
    }

    /// The operation's marker, padded like [`outline::padded_marker`], coloured.
    fn marker(self, op: Op) -> String {
        let code = match op {
            Op::CreateAgent => GREEN,
            Op::PushConfig
            | Op::KeepAgent
            | Op::WaitHealthy
            | Op::UpdateTeamAccess
            | Op::WriteHuman
            | Op::BootstrapPilot
            | Op::ConfirmPilotTrust => YELLOW,
            Op::RecreateAgent | Op::RemoveAgent | Op::DeleteAgent | Op::DeleteHuman => RED,
            Op::SleepAgent | Op::WakeAgent => CYAN,
        };
        let padded = outline::padded_marker(op);
        let padding = &padded[..padded.len() - op.marker().len()];
        format!("{padding}{}", self.paint(code, op.marker()))
    }
}
