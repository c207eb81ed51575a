# One image for every Crossfeed service; docker-compose.yml picks the command per service.
FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1

RUN useradd --create-home --uid 10001 crossfeed \
    && mkdir -p /var/lib/crossfeed /tmp/crossfeed-metrics \
    && chown crossfeed:crossfeed /var/lib/crossfeed /tmp/crossfeed-metrics

WORKDIR /app
COPY pyproject.toml README.md alembic.ini constraints.txt ./
COPY shared ./shared
COPY services ./services
COPY migrations ./migrations
# Editable, so that `crossfeed migrate` finds migrations/ beside the package.
RUN pip install -c constraints.txt -e .

USER crossfeed
ENV CROSSFEED_DATA_DIR=/var/lib/crossfeed
EXPOSE 8000
CMD ["crossfeed", "web", "--host", "0.0.0.0", "--port", "8000"]
