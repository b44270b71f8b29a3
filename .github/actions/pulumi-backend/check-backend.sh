#!/usr/bin/env bash
# Checks a job's Pulumi backend settings before anything runs against it, and tells the next
# steps which cloud to sign in to (`scheme=` in $GITHUB_OUTPUT: s3, gs, azblob or cloud).
#
# Refused, with one ::error:: line each (every problem at once), exit 1:
#   * no backend: neither PULUMI_BACKEND_URL nor PULUMI_ACCESS_TOKEN;
#   * file:// state: it lives on one runner, so a pull-request stack's `up` and `destroy` (and
#     the reaper) would never see the same state;
#   * a self-managed backend (s3://, gs://, azblob://) without PULUMI_CONFIG_PASSPHRASE: the
#     stacks' passphrase secrets provider cannot decrypt, and an empty passphrase is a passphrase;
#   * a backend URL of another scheme;
#   * a cloud backend without the credentials to reach it (OIDC settings or a static key).
set -uo pipefail

url="${PULUMI_BACKEND_URL:-}"
token="${PULUMI_ACCESS_TOKEN:-}"
problems=0

fail() {
  echo "::error title=Pulumi backend::$1"
  problems=$((problems + 1))
}

needs_passphrase() {
  if [ -z "${PULUMI_CONFIG_PASSPHRASE:-}" ]; then
    fail "PULUMI_BACKEND_URL is a self-managed backend ($1) but PULUMI_CONFIG_PASSPHRASE is empty: set it in this job's environment secrets (the passphrase of the stacks' secrets provider). See docs/pr-previews.md."
  fi
}

scheme=""
case "$url" in
  "")
    if [ -z "$token" ]; then
      fail "No Pulumi backend: set PULUMI_ACCESS_TOKEN (Pulumi Cloud), or PULUMI_BACKEND_URL (s3://, gs:// or azblob://) with PULUMI_CONFIG_PASSPHRASE, in this job's environment secrets. See docs/pr-previews.md."
    fi
    scheme=cloud
    ;;
  file://*)
    fail "PULUMI_BACKEND_URL is file:// state, which lives on one runner and is gone after the job: a stack's up, destroy and the reaper would never meet. Use s3://, gs://, azblob:// or Pulumi Cloud in CI."
    ;;
  http://* | https://*)
    if [ -z "$token" ]; then
      fail "PULUMI_BACKEND_URL is a Pulumi Cloud endpoint ($url) but PULUMI_ACCESS_TOKEN is empty."
    fi
    scheme=cloud
    ;;
  s3://*)
    scheme=s3
    needs_passphrase s3
    if [ -z "${AWS_ROLE_TO_ASSUME:-}" ] && [ -z "${AWS_ACCESS_KEY_ID:-}" ]; then
      fail "The S3 backend needs AWS credentials: set the variable AWS_ROLE_TO_ASSUME (OIDC, preferred) or the secrets AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY, and the variable AWS_REGION."
    fi
    if [ -z "${AWS_REGION:-}" ]; then
      fail "The S3 backend needs the variable AWS_REGION (the state bucket's region)."
    fi
    ;;
  gs://*)
    scheme=gs
    needs_passphrase gs
    if { [ -z "${GCP_WORKLOAD_IDENTITY_PROVIDER:-}" ] || [ -z "${GCP_SERVICE_ACCOUNT:-}" ]; } &&
      [ -z "${GCP_CREDENTIALS_JSON:-}" ]; then
      fail "The GCS backend needs Google credentials: set the variables GCP_WORKLOAD_IDENTITY_PROVIDER and GCP_SERVICE_ACCOUNT (OIDC, preferred) or the secret GCP_CREDENTIALS_JSON."
    fi
    ;;
  azblob://*)
    scheme=azblob
    needs_passphrase azblob
    if [ -z "${AZURE_STORAGE_ACCOUNT:-}" ]; then
      fail "The Azure Blob backend needs the variable AZURE_STORAGE_ACCOUNT (the storage account of the state container)."
    fi
    if { [ -z "${AZURE_CLIENT_ID:-}" ] || [ -z "${AZURE_TENANT_ID:-}" ] || [ -z "${AZURE_SUBSCRIPTION_ID:-}" ]; } &&
      [ -z "${AZURE_STORAGE_KEY:-}" ]; then
      fail "The Azure Blob backend needs Azure credentials: set the variables AZURE_CLIENT_ID, AZURE_TENANT_ID and AZURE_SUBSCRIPTION_ID (OIDC, preferred) or the secret AZURE_STORAGE_KEY."
    fi
    ;;
  *)
    fail "PULUMI_BACKEND_URL has an unsupported scheme (${url%%://*}): use s3://, gs://, azblob:// or Pulumi Cloud."
    ;;
esac

if [ "$problems" -gt 0 ]; then
  exit 1
fi
echo "Pulumi backend: $scheme"
if [ -n "${GITHUB_OUTPUT:-}" ]; then
  echo "scheme=$scheme" >> "$GITHUB_OUTPUT"
fi
