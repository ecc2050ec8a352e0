//! `.clawopsignore`: files at the fleet root (the `--path` folder) that clawops must not
//! read, in gitignore syntax (`#` comments, `!` to re-include, a trailing `/` for folders,
//! `**`), matched by the `ignore` crate's gitignore implementation. It is read from the
//! same revision as the fleet, so a pull request that changes it is planned with it.
//! `clawops.toml` is always read.

use ignore::gitignore::{Gitignore, GitignoreBuilder};

use super::CONFIG_FILE_NAME;

/// The file's name, at the fleet root.
pub const IGNORE_FILE_NAME: &str = ".clawopsignore";

/// The rules of one `.clawopsignore` (none when the fleet has no such file).
#[derive(Default)]
pub(crate) struct IgnoreRules {
    rules: Option<Gitignore>,
}

impl IgnoreRules {
    /// The rules in `text`; a line that is not a valid pattern is skipped.
    pub fn parse(text: &str) -> Self {
        let mut builder = GitignoreBuilder::new("");
        for line in text.lines() {
            // An invalid glob ignores nothing; the rest of the file still applies.
            let _ = builder.add_line(None, line);
        }
        Self {
            rules: builder.build().ok(),
        }
    }

    /// Whether the file at `relative` (to the fleet root) is left out.
    pub fn excludes(&self, relative: &str) -> bool {
        if relative == CONFIG_FILE_NAME {
            return false;
        }
        self.rules.as_ref().is_some_and(|rules| {
            rules
                .matched_path_or_any_parents(relative, false)
                .is_ignore()
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn gitignore_syntax_leaves_out_files_and_folders_but_never_clawops_toml() {
        let rules = IgnoreRules::parse(
            "# other YAML in the repository\nci/\n*.draft.yaml\n!keep.draft.yaml\nclawops.toml\n",
        );
        assert!(rules.excludes("ci/kustomization.yaml"));
        assert!(rules.excludes("ci/deep/x.yaml"));
        assert!(rules.excludes("teams/alpha.draft.yaml"));
        assert!(!rules.excludes("keep.draft.yaml"));
        assert!(!rules.excludes("teams/alpha.yaml"));
        assert!(!rules.excludes("clawops.toml"));
        assert!(!IgnoreRules::default().excludes("ci/kustomization.yaml"));
    }
}
