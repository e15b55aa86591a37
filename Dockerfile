# The project's image: `python worker.py` runs the BPMN interpreter worker, the Kafka
# correlation bridge, or both (see docker-compose.yml for how the two are deployed).
FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1

WORKDIR /app

# Only what the package needs: never a local .venv or .stack from the build context.
COPY pyproject.toml README.md worker.py bpmn_cli.py ./
COPY translator/ translator/
COPY workflows/ workflows/
COPY activities/ activities/
COPY stack/ stack/
COPY bpmn_testing/ bpmn_testing/
RUN pip install .

# Run unprivileged; the definitions folder is mounted read-only.
RUN useradd --create-home --uid 10001 bpmn
USER bpmn

CMD ["python", "worker.py", "--definitions", "/definitions"]
