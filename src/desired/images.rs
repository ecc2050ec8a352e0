//! Image resolution: the agent's own image, then its Team's, then the ImageSet's, then
//! HiClaw's published default. An empty string counts as unset at every level.

use crate::spec::ImageSetSpec;
use crate::spec::clawops::PullPolicy;
use crate::spec::hiclaw::Runtime;
use crate::spec::located::Located;

use super::agent::ImageSource;

/// HiClaw's default image for `openclaw` agents.
pub const DEFAULT_OPENCLAW_IMAGE: &str =
    "higress-registry.cn-hangzhou.cr.aliyuncs.com/higress/hiclaw-worker:v1.1.2";
/// HiClaw's default image for `copaw` agents.
pub const DEFAULT_COPAW_IMAGE: &str =
    "higress-registry.cn-hangzhou.cr.aliyuncs.com/higress/hiclaw-copaw-worker:v1.1.2";
/// HiClaw's default image for `hermes` agents.
pub const DEFAULT_HERMES_IMAGE: &str =
    "higress-registry.cn-hangzhou.cr.aliyuncs.com/higress/hiclaw-hermes-worker:v1.1.2";
/// HiClaw's default image for the Manager.
pub const DEFAULT_MANAGER_IMAGE: &str =
    "higress-registry.cn-hangzhou.cr.aliyuncs.com/higress/hiclaw-manager:v1.1.2";

/// HiClaw's default image for a runtime.
pub fn default_image(runtime: Runtime) -> &'static str {
    match runtime {
        Runtime::Openclaw => DEFAULT_OPENCLAW_IMAGE,
        Runtime::Copaw => DEFAULT_COPAW_IMAGE,
        Runtime::Hermes => DEFAULT_HERMES_IMAGE,
    }
}

/// Which ImageSet entry (and which HiClaw default) an agent falls back to.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum ImageSlot {
    /// `runtimes.<runtime>`, then the runtime's default.
    Runtime(Runtime),
    /// `manager`, then HiClaw's Manager image.
    Manager,
    /// `debug`, then the `openclaw` default (a DebugWorker runs openclaw).
    Debug,
}

/// The images written for one agent, most specific first.
#[derive(Clone, Copy, Debug, Default)]
pub(crate) struct ImageChoices<'a> {
    /// The agent's own `image`.
    pub own: Option<&'a Located<String>>,
    /// Its Team's `spec.image` (team members only).
    pub team: Option<&'a Located<String>>,
}

/// The image an agent runs and where it came from.
pub(crate) fn resolve_image(
    choices: ImageChoices<'_>,
    image_set: Option<&ImageSetSpec>,
    slot: ImageSlot,
) -> (String, ImageSource) {
    let set_image = image_set.and_then(|images| match slot {
        ImageSlot::Runtime(Runtime::Openclaw) => images.runtimes.openclaw.as_ref(),
        ImageSlot::Runtime(Runtime::Copaw) => images.runtimes.copaw.as_ref(),
        ImageSlot::Runtime(Runtime::Hermes) => images.runtimes.hermes.as_ref(),
        ImageSlot::Manager => images.manager.as_ref(),
        ImageSlot::Debug => images.debug.as_ref(),
    });
    let candidates = [
        (choices.own, ImageSource::Own),
        (choices.team, ImageSource::Team),
        (set_image, ImageSource::ImageSet),
    ];
    for (image, source) in candidates {
        if let Some(image) = image.filter(|image| !image.value.is_empty()) {
            return (image.value.clone(), source);
        }
    }
    let fallback = match slot {
        ImageSlot::Runtime(runtime) => default_image(runtime),
        ImageSlot::Manager => DEFAULT_MANAGER_IMAGE,
        ImageSlot::Debug => default_image(Runtime::Openclaw),
    };
    (fallback.to_owned(), ImageSource::Default)
}

/// The ImageSet's pull policy, `IfNotPresent` without one.
pub(crate) fn pull_policy(image_set: Option<&ImageSetSpec>) -> PullPolicy {
    image_set
        .and_then(|images| images.pull_policy)
        .unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::spec::clawops::RuntimeImages;

    fn image(text: &str) -> Located<String> {
        Located::unplaced(text.to_owned())
    }

    fn image_set() -> ImageSetSpec {
        ImageSetSpec {
            runtimes: RuntimeImages {
                openclaw: Some(image("set/openclaw:1")),
                copaw: Some(image("set/copaw:1")),
                hermes: None,
            },
            manager: Some(image("set/manager:1")),
            debug: Some(image("set/debug:1")),
            pull_policy: Some(PullPolicy::Always),
        }
    }

    #[test]
    fn own_image_wins_over_team_and_image_set() {
        let (own, team) = (image("own:1"), image("team:1"));
        let choices = ImageChoices {
            own: Some(&own),
            team: Some(&team),
        };
        let resolved = resolve_image(
            choices,
            Some(&image_set()),
            ImageSlot::Runtime(Runtime::Openclaw),
        );
        assert_eq!(resolved, ("own:1".to_owned(), ImageSource::Own));
    }

    #[test]
    fn team_image_wins_over_image_set_and_empty_own_is_unset() {
        let (own, team) = (image(""), image("team:1"));
        let choices = ImageChoices {
            own: Some(&own),
            team: Some(&team),
        };
        let resolved = resolve_image(
            choices,
            Some(&image_set()),
            ImageSlot::Runtime(Runtime::Copaw),
        );
        assert_eq!(resolved, ("team:1".to_owned(), ImageSource::Team));
    }

    #[test]
    fn image_set_entry_follows_the_runtime_or_the_slot() {
        let images = image_set();
        let empty_team = image("");
        let choices = ImageChoices {
            own: None,
            team: Some(&empty_team),
        };
        let cases = [
            (ImageSlot::Runtime(Runtime::Copaw), "set/copaw:1"),
            (ImageSlot::Runtime(Runtime::Openclaw), "set/openclaw:1"),
            (ImageSlot::Manager, "set/manager:1"),
            (ImageSlot::Debug, "set/debug:1"),
        ];
        for (slot, expected) in cases {
            let resolved = resolve_image(choices, Some(&images), slot);
            assert_eq!(resolved, (expected.to_owned(), ImageSource::ImageSet));
        }
    }

    #[test]
    fn hiclaw_default_is_the_last_resort() {
        let images = image_set();
        let none = ImageChoices::default();
        let cases = [
            (
                Some(&images),
                ImageSlot::Runtime(Runtime::Hermes),
                DEFAULT_HERMES_IMAGE,
            ),
            (
                None,
                ImageSlot::Runtime(Runtime::Openclaw),
                DEFAULT_OPENCLAW_IMAGE,
            ),
            (
                None,
                ImageSlot::Runtime(Runtime::Copaw),
                DEFAULT_COPAW_IMAGE,
            ),
            (None, ImageSlot::Manager, DEFAULT_MANAGER_IMAGE),
            (None, ImageSlot::Debug, DEFAULT_OPENCLAW_IMAGE),
        ];
        for (set, slot, expected) in cases {
            let resolved = resolve_image(none, set, slot);
            assert_eq!(resolved, (expected.to_owned(), ImageSource::Default));
        }
    }

    #[test]
    fn pull_policy_comes_from_the_image_set() {
        assert_eq!(pull_policy(Some(&image_set())), PullPolicy::Always);
        assert_eq!(pull_policy(None), PullPolicy::IfNotPresent);
    }
}
