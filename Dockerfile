# swarm: one image for the master, the workers and the mock detectors (docker-compose.yml).
#   docker build -t swarm .
#   docker run --rm swarm swarm validate scenarios/smoke.yaml
FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1

WORKDIR /swarm

# Dependencies first, read from pyproject.toml alone, so that a code change reuses this layer.
# Every dependency ships manylinux wheels for CPython 3.11: no compiler needed.
COPY pyproject.toml ./
RUN python -c "import tomllib; deps = tomllib.load(open('pyproject.toml', 'rb'))['project']['dependencies']; open('/tmp/requirements.txt', 'w').write('\n'.join(deps))" \
    && pip install -r /tmp/requirements.txt \
    && rm /tmp/requirements.txt

COPY README.md ./
COPY framework/ framework/
COPY mock_detectors/ mock_detectors/
COPY locustfiles/ locustfiles/
COPY scenarios/ scenarios/
RUN pip install --no-deps . \
    && rm -rf build ./*.egg-info \
    && useradd --create-home --uid 10001 swarm \
    && mkdir reports \
    && chown swarm:swarm reports

USER swarm
# 5557 Locust master (ZeroMQ), 8089 Locust web UI, 9646 live Prometheus /metrics,
# 8001-8005 the mock detectors.
EXPOSE 5557 8089 9646 8001-8005
CMD ["swarm", "--help"]
