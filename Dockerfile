# Sistem 48 application image: one image, one process per container (the command picks it).
FROM python:3.11-slim-bookworm

# sox decodes GSM/WAV49 voicemail for the transcription worker; tini reaps children.
RUN apt-get update \
    && apt-get install -y --no-install-recommends sox tini \
    && rm -rf /var/lib/apt/lists/*

RUN useradd --system --create-home --uid 1000 sistem48
WORKDIR /app
COPY pyproject.toml README.md ./
COPY core core
COPY telephony telephony
COPY sms_modem sms_modem
COPY transcription transcription
COPY callcenter_ui callcenter_ui
COPY email_channel email_channel
COPY sistem48 sistem48
RUN pip install --no-cache-dir .

USER sistem48
ENV S48_VAR_DIR=/var/lib/sistem48
ENTRYPOINT ["/usr/bin/tini", "--", "sistem48"]
CMD ["web"]
