#!/usr/bin/env python3
"""Generate a synthetic clawops fleet repository for benchmarks.

One file per Team (a leader and N workers), one file per Human (each Team's admin), a Manager,
an ImageSet and a clawops.toml. With --git the folder becomes a git repository with one
commit; --upgrade-commit adds a second commit that changes only the ImageSet tags (every
agent inherits its image from the ImageSet, so every agent is recreated by it).
"""

import argparse
import os
import subprocess


def team_document(index: int, workers: int) -> str:
    team = f"team-{index:04d}"
    lines = [
        "apiVersion: hiclaw.io/v1beta1",
        "kind: Team",
        "metadata:",
        f"  name: {team}",
        "spec:",
        f"  description: Synthetic team {index} for benchmarks.",
        "  admin:",
        f"    name: admin-{index:04d}",
        "  leader:",
        f"    name: {team}-lead",
        "    model: qwen3.5-plus",
        "    soul: |",
        f"      You lead {team}. Split the work, review results, report to the Manager.",
        "    heartbeat:",
        "      enabled: true",
        "      every: 30m",
        "  workers:",
    ]
    for worker in range(workers):
        name = f"{team}-w{worker:02d}"
        lines += [
            f"    - name: {name}",
            "      model: qwen3.5-plus",
            "      runtime: openclaw",
            "      skills: [github-operations, coding]",
            "      soul: |",
            f"        You are {name}. Write code, run tests, report to your leader.",
            "      env:",
            f"        WORKER_INDEX: \"{worker}\"",
            f"        TEAM_INDEX: \"{index}\"",
        ]
    return "\n".join(lines) + "\n"


def human_document(index: int) -> str:
    team = f"team-{index:04d}"
    lines = [
        "apiVersion: hiclaw.io/v1beta1",
        "kind: Human",
        "metadata:",
        f"  name: admin-{index:04d}",
        "spec:",
        f"  displayName: Admin {index}",
        "  permissionLevel: 2",
        f"  accessibleTeams: [{team}]",
    ]
    return "\n".join(lines) + "\n"


def image_set(tag: str) -> str:
    registry = "higress-registry.cn-hangzhou.cr.aliyuncs.com/higress"
    return f"""apiVersion: clawops.dev/v1alpha1
kind: ImageSet
metadata:
  name: stable
spec:
  runtimes:
    openclaw: {registry}/hiclaw-worker:{tag}
    copaw: {registry}/hiclaw-copaw-worker:{tag}
    hermes: {registry}/hiclaw-hermes-worker:{tag}
  manager: {registry}/hiclaw-manager:{tag}
"""


MANAGER = """apiVersion: hiclaw.io/v1beta1
kind: Manager
metadata:
  name: default
spec:
  model: qwen3.5-plus
"""


def git(folder: str, *arguments: str) -> None:
    subprocess.run(["git", "-C", folder, *arguments], check=True, stdout=subprocess.DEVNULL)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--out", required=True, help="folder to create")
    parser.add_argument("--teams", type=int, default=1000)
    parser.add_argument("--workers", type=int, default=10, help="workers per team")
    parser.add_argument("--git", action="store_true", help="make the folder a git repository")
    parser.add_argument("--upgrade-commit", action="store_true", help="add a commit changing the ImageSet")
    arguments = parser.parse_args()

    os.makedirs(os.path.join(arguments.out, "teams"), exist_ok=True)
    os.makedirs(os.path.join(arguments.out, "humans"), exist_ok=True)
    with open(os.path.join(arguments.out, "clawops.toml"), "w") as file:
        file.write('[fleet]\nname = "bench"\n')
    with open(os.path.join(arguments.out, "manager.yaml"), "w") as file:
        file.write(MANAGER)
    with open(os.path.join(arguments.out, "images.yaml"), "w") as file:
        file.write(image_set("v1.1.2"))
    for index in range(arguments.teams):
        with open(os.path.join(arguments.out, "teams", f"team-{index:04d}.yaml"), "w") as file:
            file.write(team_document(index, arguments.workers))
        with open(os.path.join(arguments.out, "humans", f"admin-{index:04d}.yaml"), "w") as file:
            file.write(human_document(index))

    if arguments.git:
        git(arguments.out, "init", "-q", "-b", "main")
        git(arguments.out, "-c", "user.name=bench", "-c", "user.email=bench@clawops.dev", "add", "-A")
        git(arguments.out, "-c", "user.name=bench", "-c", "user.email=bench@clawops.dev",
            "commit", "-q", "-m", f"{arguments.teams} teams of {arguments.workers} workers")
        if arguments.upgrade_commit:
            with open(os.path.join(arguments.out, "images.yaml"), "w") as file:
                file.write(image_set("v1.2.0"))
            git(arguments.out, "-c", "user.name=bench", "-c", "user.email=bench@clawops.dev",
                "commit", "-q", "-am", "upgrade every runtime image to v1.2.0")


if __name__ == "__main__":
    main()
