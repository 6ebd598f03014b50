# One image for the api and the worker (production form). Dependencies come from the lock file
# (requirements.lock, hashes checked; regenerate with
# `uv pip compile pyproject.toml --generate-hashes --python-version 3.11 -o requirements.lock`),
# then the project itself without resolving anything again.
FROM python:3.11.10-slim
ENV PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1 PIP_NO_CACHE_DIR=1 PIP_DISABLE_PIP_VERSION_CHECK=1
WORKDIR /app
COPY requirements.lock ./
RUN pip install --require-hashes --no-deps -r requirements.lock
COPY pyproject.toml README.md ./
COPY contracts contracts
COPY core core
COPY models models
COPY scoring scoring
COPY frameworks frameworks
COPY services services
COPY activities activities
COPY workflows workflows
COPY notifications notifications
COPY api api
COPY web web
COPY cli cli
COPY migrations migrations
# --no-deps: nothing outside the lock is installed (only the build backend, in isolation).
RUN pip install --no-deps . \
    && useradd --create-home appraisal && mkdir -p /data && chown appraisal /data
USER appraisal
ENV APPRAISAL_DATA_DIR=/data
EXPOSE 8000 9000
CMD ["appraisal", "api", "--host", "0.0.0.0"]
