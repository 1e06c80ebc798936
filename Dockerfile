FROM python:3.11-slim
ENV PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1
WORKDIR /app
COPY pyproject.toml README.md ./
COPY api api
COPY worker worker
COPY domain domain
COPY infra infra
RUN pip install --no-cache-dir . && useradd --system --uid 10001 bonemets
USER bonemets
EXPOSE 8000
CMD ["bonemets", "serve", "--host", "0.0.0.0", "--port", "8000", "--workers", "2"]
