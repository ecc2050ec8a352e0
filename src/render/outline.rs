//! The shape every readable format shares: steps grouped by rollout group, identical lines
//! gathered into entries, groups with identical content gathered into one block, and the
//! rollout waves as sentences. Text and markdown only decide how it looks.

use std::collections::HashMap;

use indexmap::IndexMap;

use crate::plan::{Cause, Drift, Op, Plan, RolloutGroup, Step, Summary, Wave};

/// How much the outline gathers and keeps.
#[derive(Clone, Copy, Debug)]
pub(crate) struct OutlineOptions {
    /// Steps with the same operation, description and diffs become one entry line once a
    /// group has this many of them.
    pub summarise_at: usize,
    /// Groups with identical content are gathered into one block when there are more
    /// groups than this.
    pub collapse_groups_over: usize,
    /// Keep the unified diffs of changed workspace files.
    pub diffs: bool,
    /// Cut descriptions longer than this many characters.
    pub description_limit: Option<usize>,
}

/// A changed workspace file as a unified diff.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub(crate) struct FileDiff {
    /// Path relative to the agent's home.
    pub path: String,
    /// The diff lines (headers, hunks), without line ends, control characters escaped.
    pub lines: Vec<String>,
}

/// Agents of one group doing the same thing for the same reasons.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct Entry {
    /// The operation.
    pub op: Op,
    /// The agents, in rollout order.
    pub agents: Vec<String>,
    /// `verb: cause; cause` (or the kept sentence).
    pub description: String,
    /// Diffs of the workspace files the causes name.
    pub diffs: Vec<FileDiff>,
}

impl Entry {
    /// Whether the entry is shown as one line with a count rather than a line per agent.
    pub fn is_summarised(&self, options: &OutlineOptions) -> bool {
        self.agents.len() >= options.summarise_at.max(2)
    }
}

/// The lines of an entry after `marker` (already padded): one per agent, or one for all
/// of them when they are many or the block stands for several groups.
pub(crate) fn entry_lines(
    entry: &Entry,
    several_groups: bool,
    options: &OutlineOptions,
    marker: &str,
) -> Vec<String> {
    let description = &entry.description;
    if several_groups {
        let agents = agents_count(entry.agents.len());
        vec![format!("{marker} {agents} each  {description}")]
    } else if entry.is_summarised(options) {
        let agents = agents_count(entry.agents.len());
        let range = name_range(&entry.agents);
        vec![format!("{marker} {agents} ({range})  {description}")]
    } else {
        entry
            .agents
            .iter()
            .map(|agent| format!("{marker} {agent}  {description}"))
            .collect()
    }
}

/// The marker right-aligned in three columns after a two-space indent: `    +`, `  -/+`.
pub(crate) fn padded_marker(op: Op) -> String {
    format!("{:>5}", op.marker())
}

/// One group, or several groups with identical content.
#[derive(Clone, Debug)]
pub(crate) struct GroupBlock {
    /// The group names (more than one: the block stands for each of them).
    pub names: Vec<String>,
    /// The block is one of the groups that close a plan (deletes, access): never
    /// gathered with others.
    pub last: bool,
    /// Counts of one group.
    pub counts: Summary,
    /// The entries of one group (the first, when the block stands for several).
    pub entries: Vec<Entry>,
}

impl GroupBlock {
    /// The title: the group name, or how many groups share this content.
    pub fn title(&self) -> String {
        match self.names.as_slice() {
            [name] => name.clone(),
            names => format!(
                "{} groups with the same changes ({})",
                names.len(),
                name_range(names)
            ),
        }
    }

    /// The group's counts, with `each` when the block stands for several groups.
    pub fn counts_phrase(&self) -> String {
        let phrase = counts_phrase(&self.counts);
        if self.names.len() > 1 {
            format!("{phrase} each")
        } else {
            phrase
        }
    }
}

/// The steps of a plan, grouped and gathered (WaitHealthy steps are left to the rollout).
pub(crate) fn group_blocks(plan: &Plan, options: &OutlineOptions) -> Vec<GroupBlock> {
    let mut by_group: IndexMap<&RolloutGroup, Vec<&Step>> = IndexMap::new();
    for step in plan
        .steps
        .iter()
        .filter(|step| !matches!(step.op, Op::WaitHealthy | Op::ConfirmPilotTrust))
    {
        by_group.entry(&step.group).or_default().push(step);
    }
    for last_group in [RolloutGroup::Deletes, RolloutGroup::Access] {
        if let Some(index) = by_group.get_index_of(&last_group) {
            let last = by_group.len() - 1;
            by_group.move_index(index, last);
        }
    }
    let blocks: Vec<GroupBlock> = by_group
        .into_iter()
        .map(|(group, steps)| GroupBlock {
            names: vec![printable(&group.to_string())],
            last: group.is_last(),
            counts: count(steps.iter().map(|step| step.op)),
            entries: entries(&steps, options),
        })
        .collect();
    if blocks.len() > options.collapse_groups_over {
        collapse_identical(blocks)
    } else {
        blocks
    }
}

/// Gathers the steps of one group into entries, in order of first appearance.
fn entries(steps: &[&Step], options: &OutlineOptions) -> Vec<Entry> {
    let mut gathered: IndexMap<(Op, String, Vec<FileDiff>), Vec<String>> = IndexMap::new();
    for step in steps {
        let mut description = describe_step(step);
        if let Some(limit) = options.description_limit {
            description = cut(&description, limit);
        }
        let diffs = if options.diffs {
            step.causes.iter().filter_map(file_diff).collect()
        } else {
            Vec::new()
        };
        gathered
            .entry((step.op, description, diffs))
            .or_default()
            .push(printable(&step.resource.to_string()));
    }
    gathered
        .into_iter()
        .map(|((op, description, diffs), agents)| Entry {
            op,
            agents,
            description,
            diffs,
        })
        .collect()
}

/// Gathers groups whose entries differ only in agent names into one block each (at the
/// place of the first); the deletes and access groups stay on their own, last.
fn collapse_identical(blocks: Vec<GroupBlock>) -> Vec<GroupBlock> {
    type Signature = (Vec<(Op, String, Vec<FileDiff>, usize)>, String);
    let signature = |block: &GroupBlock| -> Signature {
        let entries = block
            .entries
            .iter()
            .map(|entry| {
                let (description, diffs) = (entry.description.clone(), entry.diffs.clone());
                (entry.op, description, diffs, entry.agents.len())
            })
            .collect();
        (entries, counts_phrase(&block.counts))
    };
    let mut order: IndexMap<Signature, GroupBlock> = IndexMap::new();
    let mut last = Vec::new();
    for block in blocks {
        if block.last {
            last.push(block);
            continue;
        }
        let key = signature(&block);
        match order.get_mut(&key) {
            Some(first) => first.names.extend(block.names),
            None => {
                order.insert(key, block);
            }
        }
    }
    order.into_values().chain(last).collect()
}

/// Counts operations the way the plan's [`Summary`] does.
pub(crate) fn count(ops: impl Iterator<Item = Op>) -> Summary {
    let mut summary = Summary::default();
    for op in ops {
        match op {
            Op::CreateAgent => summary.create += 1,
            Op::RecreateAgent => summary.recreate += 1,
            Op::PushConfig => summary.update += 1,
            Op::SleepAgent => summary.sleep += 1,
            Op::WakeAgent => summary.wake += 1,
            Op::RemoveAgent => summary.remove += 1,
            Op::DeleteAgent => summary.delete += 1,
            Op::KeepAgent => summary.kept += 1,
            Op::UpdateTeamAccess => summary.access += 1,
            Op::WriteHuman | Op::DeleteHuman => summary.humans += 1,
            Op::BootstrapPilot => summary.pilot += 1,
            Op::WaitHealthy | Op::ConfirmPilotTrust => {}
        }
    }
    summary
}

/// The non-zero counts, e.g. `2 to recreate, 1 to update in place`.
pub(crate) fn counts_phrase(counts: &Summary) -> String {
    let parts: Vec<String> = [
        (counts.create, "to create"),
        (counts.recreate, "to recreate"),
        (counts.update, "to update in place"),
        (counts.sleep, "to sleep"),
        (counts.wake, "to wake"),
        (counts.delete + counts.remove, "to delete"),
        (counts.kept, "kept"),
        (counts.access, "access rules to update"),
        (counts.humans, "humans to write or delete"),
        (counts.pilot, "Pilot roles to bootstrap"),
    ]
    .into_iter()
    .filter(|(count, _)| *count > 0)
    .map(|(count, words)| format!("{count} {words}"))
    .collect();
    if parts.is_empty() {
        "no changes".to_owned()
    } else {
        parts.join(", ")
    }
}

/// What one step does and why, on one line.
pub(crate) fn describe_step(step: &Step) -> String {
    if step.op == Op::KeepAgent {
        return "not managed by git any more, kept (enable [prune] to delete)".to_owned();
    }
    let causes: Vec<String> = step
        .causes
        .iter()
        .filter(|cause| !matches!(cause, Cause::HealthGate { .. }))
        .map(describe_cause)
        .collect();
    let verb = if step.delete_workspace {
        "delete with its workspace"
    } else {
        step.op.verb()
    };
    if causes.is_empty() {
        verb.to_owned()
    } else {
        format!("{verb}: {}", causes.join("; "))
    }
}

/// One cause, as a person reads it: image pairs shortened, control characters escaped.
pub(crate) fn describe_cause(cause: &Cause) -> String {
    let described = match cause {
        Cause::FieldChanged {
            path,
            before: Some(before),
            after: Some(after),
        } if path == "image" => {
            let (before, after) = shorten_pair(before, after);
            format!("{path}: {before} → {after}")
        }
        Cause::Drift(Drift::ImageChanged { applied, running }) => {
            let (applied, running) = shorten_pair(applied, running);
            format!("drift: image changed outside clawops: {applied} → {running}")
        }
        other => other.to_string(),
    };
    printable(&described)
}

/// Drops the common prefix of two image references: the first keeps its last path
/// segment for context, the second starts at the separator where they differ.
/// `r.io/hiclaw/hiclaw-worker:v1.1.2`, `r.io/hiclaw/hiclaw-worker:v1.2.0` →
/// `…/hiclaw-worker:v1.1.2`, `v1.2.0`.
pub(crate) fn shorten_pair(before: &str, after: &str) -> (String, String) {
    let common: usize = before
        .char_indices()
        .zip(after.chars())
        .take_while(|((_, left), right)| left == right)
        .map(|((_, left), _)| left.len_utf8())
        .sum();
    let prefix = &before[..common];
    let before_cut = prefix.rfind('/').map_or(0, |index| index + 1);
    let after_cut = prefix.rfind(['/', ':', '@']).map_or(0, |index| index + 1);
    let before_shown = if before_cut > 0 {
        format!("…/{}", &before[before_cut..])
    } else {
        before.to_owned()
    };
    let after_shown = match &after[after_cut..] {
        "" => after.to_owned(),
        rest => rest.to_owned(),
    };
    (before_shown, after_shown)
}

/// The unified diff (3 lines of context) of a changed workspace file.
fn file_diff(cause: &Cause) -> Option<FileDiff> {
    let Cause::FileChanged {
        path,
        before,
        after,
    } = cause
    else {
        return None;
    };
    let old_name = if before.is_some() {
        path.as_str()
    } else {
        "/dev/null"
    };
    let new_name = if after.is_some() {
        path.as_str()
    } else {
        "/dev/null"
    };
    let old = before.as_deref().unwrap_or("");
    let new = after.as_deref().unwrap_or("");
    if old == new {
        return None;
    }
    let unified = similar::TextDiff::from_lines(old, new)
        .unified_diff()
        .context_radius(3)
        .header(old_name, new_name)
        .to_string();
    Some(FileDiff {
        path: printable(path),
        lines: unified.lines().map(printable_diff_line).collect(),
    })
}

/// The rollout as one sentence per wave; when there are more than `compress_over`
/// waves, consecutive waves of the same shape share one sentence.
pub(crate) fn wave_lines(plan: &Plan, compress_over: usize) -> Vec<String> {
    let steps: HashMap<usize, &Step> = plan.steps.iter().map(|step| (step.id, step)).collect();
    let shapes: Vec<WaveShape> = plan
        .waves
        .iter()
        .map(|wave| WaveShape::new(wave, &steps))
        .collect();
    let mut lines = Vec::new();
    let mut start = 0;
    while start < shapes.len() {
        let mut end = start + 1;
        if shapes.len() > compress_over {
            while end < shapes.len() && shapes[end].same_shape(&shapes[start]) {
                end += 1;
            }
        }
        let shape = &shapes[start];
        lines.push(if end - start == 1 {
            format!(
                "wave {} ({}): {}",
                start + 1,
                shape.groups_text(),
                shape.actions(false)
            )
        } else {
            let groups: Vec<String> = shapes[start..end]
                .iter()
                .flat_map(|shape| shape.groups.iter().cloned())
                .collect();
            format!(
                "waves {}–{} ({}): {}",
                start + 1,
                end,
                name_range(&groups),
                shape.actions(true)
            )
        });
        start = end;
    }
    lines
}

/// What a wave does, in the terms its sentence needs.
struct WaveShape {
    groups: Vec<String>,
    restarts: Vec<String>,
    timeouts: Vec<u64>,
    /// Pilot roles bootstrapped (then gated on mutual trust).
    pilot: usize,
    others: Summary,
}

impl WaveShape {
    fn new(wave: &Wave, steps: &HashMap<usize, &Step>) -> Self {
        let wave_steps: Vec<&Step> = wave
            .steps
            .iter()
            .filter_map(|id| steps.get(id).copied())
            .collect();
        let mut timeouts: Vec<u64> = wave_steps
            .iter()
            .flat_map(|step| step.causes.iter())
            .filter_map(|cause| match cause {
                Cause::HealthGate { timeout_seconds } => Some(*timeout_seconds),
                _ => None,
            })
            .collect();
        timeouts.sort_unstable();
        timeouts.dedup();
        let pilot = wave_steps
            .iter()
            .filter(|step| step.op == Op::BootstrapPilot)
            .count();
        let others = count(
            wave_steps
                .iter()
                .filter(|step| step.op != Op::BootstrapPilot)
                .filter(|step| {
                    step.resource
                        .agent_name()
                        .is_none_or(|agent| !wave.restarts.iter().any(|name| name == agent))
                })
                .map(|step| step.op),
        );
        Self {
            groups: wave
                .groups
                .iter()
                .map(|group| printable(&group.to_string()))
                .collect(),
            restarts: wave.restarts.iter().map(|agent| printable(agent)).collect(),
            timeouts,
            pilot,
            others,
        }
    }

    fn same_shape(&self, other: &WaveShape) -> bool {
        self.groups.len() == other.groups.len()
            && self.restarts.len() == other.restarts.len()
            && self.timeouts == other.timeouts
            && self.pilot == other.pilot
            && self.others == other.others
    }

    fn groups_text(&self) -> String {
        if self.groups.len() <= 3 {
            self.groups.join(", ")
        } else {
            format!("{} groups: {}", self.groups.len(), name_range(&self.groups))
        }
    }

    /// `start a, b, then wait healthy (90s); 1 to update in place`. `each`: the
    /// sentence stands for several waves, so restarts are counted, not named.
    fn actions(&self, each: bool) -> String {
        let mut parts = Vec::new();
        let wait = match self.timeouts.as_slice() {
            [] => None,
            [single] => Some(format!("wait healthy ({single}s)")),
            [.., longest] => Some(format!("wait healthy (up to {longest}s)")),
        };
        if !self.restarts.is_empty() {
            let agents = if each {
                format!("{} each", agents_count(self.restarts.len()))
            } else if self.restarts.len() <= 5 {
                self.restarts.join(", ")
            } else {
                format!(
                    "{} ({})",
                    agents_count(self.restarts.len()),
                    name_range(&self.restarts)
                )
            };
            parts.push(match &wait {
                Some(wait) => format!("start {agents}, then {wait}"),
                None => format!("start {agents}"),
            });
        } else if let Some(wait) = wait {
            parts.push(wait);
        }
        if self.pilot > 0 {
            let roles = if self.pilot == 1 { "role" } else { "roles" };
            parts.push(format!(
                "bootstrap {} Pilot {roles}, then confirm mutual trust",
                self.pilot
            ));
        }
        if self.others.has_changes() || self.others.kept > 0 {
            let others = counts_phrase(&self.others);
            parts.push(if each {
                format!("{others} each")
            } else {
                others
            });
        }
        if parts.is_empty() {
            "nothing to do".to_owned()
        } else {
            parts.join("; ")
        }
    }
}

/// `1 agent`, `11 agents`.
pub(crate) fn agents_count(count: usize) -> String {
    if count == 1 {
        "1 agent".to_owned()
    } else {
        format!("{count} agents")
    }
}

/// `first … last` for several names, the name for one.
pub(crate) fn name_range(names: &[String]) -> String {
    match names {
        [] => String::new(),
        [single] => single.clone(),
        [first, second] => format!("{first}, {second}"),
        [first, .., last] => format!("{first} … {last}"),
    }
}

/// The first `limit` characters, with `…` when something was cut.
pub(crate) fn cut(text: &str, limit: usize) -> String {
    match text.char_indices().nth(limit) {
        Some((index, _)) => format!("{}…", &text[..index]),
        None => text.to_owned(),
    }
}

/// The text with control characters escaped, so values from the repository cannot move
/// the cursor, colour the terminal or break a line.
pub(crate) fn printable(text: &str) -> String {
    if !text.chars().any(char::is_control) {
        return text.to_owned();
    }
    text.chars()
        .map(|character| {
            if character.is_control() {
                character.escape_default().to_string()
            } else {
                character.to_string()
            }
        })
        .collect()
}

/// A diff line with control characters other than tabs escaped.
fn printable_diff_line(line: &str) -> String {
    line.split('\t')
        .map(printable)
        .collect::<Vec<_>>()
        .join("\t")
}
