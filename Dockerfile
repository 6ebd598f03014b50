# One image for the api and the worker (production form). Built from the package index only.
FROM python:3.11-slim
ENV PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1 PIP_NO_CACHE_DIR=1
WORKDIR /app
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
RUN pip install . && useradd --create-home appraisal && mkdir -p /data && chown appraisal /data
USER appraisal
ENV APPRAISAL_DATA_DIR=/data
EXPOSE 8000
CMD ["appraisal", "api", "--host", "0.0.0.0"]
