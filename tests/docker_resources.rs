//! An agent's own `resources` on a real Docker Engine: its limits become the container's
//! memory and CPU limits, its memory request a soft reservation.
#![cfg(feature = "docker")]

mod docker_support;

use clawops::backend::Backend;
use docker_support::{BASE_IMAGE, fleet, inspect};

#[tokio::test]
async fn limits_and_the_memory_request_reach_the_container() {
    let Some(fleet) = fleet().await else { return };
    let mut limited = fleet.agent("limited", BASE_IMAGE);
    limited.resources.limits_memory = Some("64Mi".to_owned());
    limited.resources.limits_cpu = Some("500m".to_owned());
    limited.resources.requests_memory = Some("32Mi".to_owned());
    let plain = fleet.agent("plain", BASE_IMAGE);
    fleet
        .backend
        .prepare(&[&limited, &plain])
        .await
        .expect("prepare");
    for agent in [&limited, &plain] {
        fleet
            .backend
            .create_agent(agent, None)
            .await
            .expect("create");
    }
    assert_eq!(inspect(&limited.name, "{{.HostConfig.Memory}}"), "67108864");
    assert_eq!(
        inspect(&limited.name, "{{.HostConfig.NanoCpus}}"),
        "500000000"
    );
    assert_eq!(
        inspect(&limited.name, "{{.HostConfig.MemoryReservation}}"),
        "33554432"
    );
    assert_eq!(
        inspect(&plain.name, "{{.HostConfig.Memory}}"),
        "0",
        "no limit unless the spec sets one"
    );
}
