# Baton's image: `baton serve` (the default command) with git, Node, bubblewrap and the pinned
# agent CLIs, run as a non-root user. Build: docker build -t baton .
# Run (the sandbox needs user namespaces inside the container, see README "Run Baton for your
# organization"):
#   docker run -p 8000:8000 -v baton-data:/var/lib/baton --env-file .env \
#     --security-opt seccomp=unconfined --security-opt apparmor=unconfined \
#     --security-opt systempaths=unconfined baton
# Any Debian trixie based image will do as BASE; Python 3.12 is the newest Aider runs on.
ARG BASE=python:3.12-slim-trixie
FROM ${BASE}

# The agent CLIs to install (names as `baton agents` lists them); empty: every one that is not
# optional, as `baton agents install` does.
ARG AGENTS=""
# PEM text of extra certificate authorities to trust while building and running (a network
# that intercepts TLS); empty for the image users get.
ARG EXTRA_CA_CERTS=""

ENV DEBIAN_FRONTEND=noninteractive \
    PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    SSL_CERT_FILE=/etc/ssl/certs/ca-certificates.crt \
    PIP_CERT=/etc/ssl/certs/ca-certificates.crt \
    NODE_EXTRA_CA_CERTS=/etc/ssl/certs/ca-certificates.crt \
    BATON_AGENTS_PREFIX=/opt/baton/agents \
    PATH=/opt/baton/venv/bin:$PATH

# git (mirrors, commits, pushes), Node and npm (the agent CLIs), bubblewrap and util-linux (the
# sandbox), Debian's python3 (the sandbox's network relay runs on /usr/bin/python3), tini (PID 1
# that reaps the agents' orphans).
RUN apt-get update \
    && apt-get install -y --no-install-recommends \
        ca-certificates git nodejs npm bubblewrap util-linux python3 python3-venv tini \
    && rm -rf /var/lib/apt/lists/* \
    && if [ -n "$EXTRA_CA_CERTS" ]; then \
        printf '%s\n' "$EXTRA_CA_CERTS" > /usr/local/share/ca-certificates/extra-build-ca.crt \
        && update-ca-certificates; \
    fi

COPY pyproject.toml README.md app.yml /src/
COPY bot /src/bot
COPY adapters /src/adapters
COPY config /src/config
RUN python3 -m venv /opt/baton/venv \
    && /opt/baton/venv/bin/pip install --quiet /src \
    && rm -rf /src \
    && baton agents install $AGENTS \
    && chmod -R a+rX /opt/baton \
    && rm -rf /root/.npm /root/.cache

# The working directory holds .env, the key file, the SQLite database and the run areas:
# mount a volume here.
# A fixed uid, so that files given to the container (the App's key) can be made its own.
RUN useradd --system --uid 10001 --create-home --home-dir /var/lib/baton \
        --shell /usr/sbin/nologin baton
USER baton
WORKDIR /var/lib/baton
EXPOSE 8000

HEALTHCHECK --interval=30s --timeout=5s --start-period=20s --retries=3 \
    CMD ["python3", "-c", "import urllib.request; urllib.request.urlopen('http://127.0.0.1:8000/healthz', timeout=4)"]

ENTRYPOINT ["tini", "--", "baton"]
CMD ["serve", "--host", "0.0.0.0", "--port", "8000"]
