//! CPU and memory amounts: reading the Kubernetes notation (`500m`, `2`, `0.5`; `256Mi`,
//! `2Gi`, `512M`, plain bytes) into numbers, for validation and for Docker's limits.

use serde::{Deserialize, Serialize};

use crate::spec::hiclaw::Resources;

/// An agent's resources as written (each amount optional; the backend's defaults fill in).
#[derive(Clone, Debug, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct AgentResources {
    /// CPU requested.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub requests_cpu: Option<String>,
    /// Memory requested.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub requests_memory: Option<String>,
    /// CPU limit.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub limits_cpu: Option<String>,
    /// Memory limit.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub limits_memory: Option<String>,
}

impl AgentResources {
    /// The amounts a spec's `resources` gives.
    pub fn of(written: Option<&Resources>) -> Self {
        let amount = |amounts: Option<&crate::spec::hiclaw::ResourceAmounts>, cpu: bool| {
            amounts.and_then(|amounts| {
                let value = if cpu { &amounts.cpu } else { &amounts.memory };
                value.as_ref().map(|quantity| quantity.value.0.clone())
            })
        };
        let requests = written.and_then(|written| written.requests.as_ref());
        let limits = written.and_then(|written| written.limits.as_ref());
        Self {
            requests_cpu: amount(requests, true),
            requests_memory: amount(requests, false),
            limits_cpu: amount(limits, true),
            limits_memory: amount(limits, false),
        }
    }

    /// Whether nothing is set.
    pub fn is_empty(&self) -> bool {
        self == &Self::default()
    }

    /// `requests cpu 500m, limits memory 1Gi`, or `backend defaults`.
    pub fn describe(&self) -> String {
        if self.is_empty() {
            return "backend defaults".to_owned();
        }
        [
            ("requests cpu", &self.requests_cpu),
            ("requests memory", &self.requests_memory),
            ("limits cpu", &self.limits_cpu),
            ("limits memory", &self.limits_memory),
        ]
        .into_iter()
        .filter_map(|(what, value)| value.as_ref().map(|value| format!("{what} {value}")))
        .collect::<Vec<_>>()
        .join(", ")
    }
}

/// Splits `1.5Gi` into `1.5` and `Gi`.
fn split(text: &str) -> Option<(f64, &str)> {
    let end = text
        .find(|character: char| !(character.is_ascii_digit() || character == '.'))
        .unwrap_or(text.len());
    let (number, unit) = text.split_at(end);
    let valid = !number.is_empty()
        && !number.starts_with('.')
        && !number.ends_with('.')
        && number.matches('.').count() <= 1;
    valid.then(|| number.parse().ok().map(|number| (number, unit)))?
}

/// CPU in billionths of a core (Docker's `NanoCpus`): `500m` → 500,000,000.
pub fn cpu_nanos(text: &str) -> Option<i64> {
    let (number, unit) = split(text)?;
    let cores = match unit {
        "" => number,
        "m" => number / 1000.0,
        _ => return None,
    };
    let nanos = (cores * 1e9).round();
    (nanos >= 1.0 && nanos < i64::MAX as f64).then_some(nanos as i64)
}

/// Memory in bytes: `256Mi` → 268,435,456, `1G` → 1,000,000,000.
pub fn memory_bytes(text: &str) -> Option<i64> {
    let (number, unit) = split(text)?;
    let power = |base: f64, exponent: i32| base.powi(exponent);
    let factor = match unit {
        "" => 1.0,
        "k" => 1e3,
        "M" => 1e6,
        "G" => 1e9,
        "T" => 1e12,
        "Ki" => power(1024.0, 1),
        "Mi" => power(1024.0, 2),
        "Gi" => power(1024.0, 3),
        "Ti" => power(1024.0, 4),
        _ => return None,
    };
    let bytes = (number * factor).round();
    (bytes >= 1.0 && bytes < i64::MAX as f64).then_some(bytes as i64)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn amounts_read_as_kubernetes_writes_them() {
        assert_eq!(cpu_nanos("500m"), Some(500_000_000));
        assert_eq!(cpu_nanos("2"), Some(2_000_000_000));
        assert_eq!(cpu_nanos("0.25"), Some(250_000_000));
        assert_eq!(memory_bytes("256Mi"), Some(268_435_456));
        assert_eq!(memory_bytes("1G"), Some(1_000_000_000));
        assert_eq!(memory_bytes("2Gi"), Some(2_147_483_648));
        for bad in [
            "", "m", "1.2.3", ".5", "5.", "two", "1 Gi", "-1", "1Gb", "0",
        ] {
            assert_eq!(memory_bytes(bad), None, "{bad}");
        }
        for bad in ["", "500u", "1Gi", "0m", "x"] {
            assert_eq!(cpu_nanos(bad), None, "{bad}");
        }
    }
}
