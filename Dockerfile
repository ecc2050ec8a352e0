# The clawops image: a prebuilt clawops binary on Debian, with git and ssh for fleets kept
# in remote repositories, running as an unprivileged user. The release workflow
# (.github/workflows/release.yml) builds it from the release binaries; see docs/image.md.
#
#   docker build --build-arg BINARY=target/release/clawops -t clawops .
#
# BASE is the base image (a Debian bookworm or a compatible one: the binary is linked
# against glibc, 2.36 or older). BINARY is the path of the clawops binary inside the
# build context (.dockerignore lets only the usual places through).
ARG BASE=debian:bookworm-slim
FROM ${BASE}

ARG BINARY=clawops

# ca-certificates for https remotes, git for anything clawops hands to git, openssh-client
# for ssh:// and scp-like remotes.
RUN apt-get update \
 && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends \
      ca-certificates git openssh-client \
 && rm -rf /var/lib/apt/lists/*

# A fixed uid, so a mounted key or cache folder can be given to it ahead of time.
RUN groupadd --gid 10001 clawops \
 && useradd --uid 10001 --gid 10001 --home-dir /home/clawops --create-home \
      --shell /usr/sbin/nologin clawops \
 && mkdir -p /home/clawops/.cache/clawops /home/clawops/.ssh /work \
 && chown -R 10001:10001 /home/clawops /work \
 && chmod 0700 /home/clawops/.ssh

# The binary keeps the mode it has in the context (the release archive makes it 0755).
COPY ${BINARY} /usr/local/bin/clawops

ENV HOME=/home/clawops \
    XDG_CACHE_HOME=/home/clawops/.cache
WORKDIR /work
USER 10001:10001

ENTRYPOINT ["clawops"]
CMD ["--help"]
