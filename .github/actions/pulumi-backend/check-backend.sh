#!/usr/bin/env bash
# Checks a job's Pulumi backend settings before anything runs against it, and tells the next
# steps which cloud to sign in to (`scheme=` in $GITHUB_OUTPUT: s3, gs, azblob or cloud).
#
# Refused, with one ::error:: line each (every problem at once), exit 1:
#   * no backend: neither PULUMI_BACKEND_URL nor PULUMI_ACCESS_TOKEN;
#   * file:// state: it lives on one runner, so a pull-request stack's `up` and `destroy` (and
#     the reaper) would never see the same state;
#   * a self-managed backend (s3://, gs://, azblob://), or a stack whose file holds an
#     `encryptionsalt:` (the passphrase secrets provider, on any backend, Pulumi Cloud included),
#     without a passphrase: the stack cannot decrypt, and an empty passphrase is a passphrase.
#     A passphrase is PULUMI_CONFIG_PASSPHRASE, or PULUMI_CONFIG_PASSPHRASE_FILE naming a
#     non-empty file when PULUMI_CONFIG_PASSPHRASE is not set at all: the CLI takes a set
#     PULUMI_CONFIG_PASSPHRASE, even empty, before the file (pulumi/pulumi@v3.259.0:
#     pkg/secrets/passphrase/manager.go, readPassphrase: `os.LookupEnv("PULUMI_CONFIG_PASSPHRASE")`
#     first, then the file, trimmed). ASSUMPTION: unchanged at the pinned v3.272.0 (the mirror
#     stops at v3.259.0). The stack is STACK_NAME (optional), its file
#     <stackConfigDir>/Pulumi.<stack>.yaml as Pulumi.yaml in the working directory says;
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

# Whether the CLI will find a non-empty passphrase; the reason it will not in $passphrase_problem.
has_passphrase() {
  passphrase_problem=""
  if [ -n "${PULUMI_CONFIG_PASSPHRASE:-}" ]; then
    return 0
  fi
  local file="${PULUMI_CONFIG_PASSPHRASE_FILE:-}"
  if [ -z "$file" ]; then
    passphrase_problem="PULUMI_CONFIG_PASSPHRASE is empty"
    return 1
  fi
  if [ -n "${PULUMI_CONFIG_PASSPHRASE+set}" ]; then
    passphrase_problem="PULUMI_CONFIG_PASSPHRASE is set but empty, and the Pulumi CLI then ignores PULUMI_CONFIG_PASSPHRASE_FILE ($file): leave PULUMI_CONFIG_PASSPHRASE out of the job's environment to use the file"
    return 1
  fi
  if [ ! -r "$file" ] || [ -z "$(tr -d '[:space:]' < "$file")" ]; then
    passphrase_problem="PULUMI_CONFIG_PASSPHRASE_FILE ($file) is not a readable file holding a passphrase"
    return 1
  fi
  return 0
}

needs_passphrase() {
  if ! has_passphrase; then
    fail "PULUMI_BACKEND_URL is a self-managed backend ($1) but $passphrase_problem: set PULUMI_CONFIG_PASSPHRASE in this job's environment secrets (the passphrase of the stacks' secrets provider). See docs/pr-previews.md."
  fi
}

# The stack's file, when STACK_NAME is given and the file exists.
stack_file() {
  local dir="."
  if [ -f Pulumi.yaml ]; then
    dir="$(sed -n 's/^stackConfigDir:[[:space:]]*//p' Pulumi.yaml | sed 's/[[:space:]]#.*$//' | tr -d "\"'" | sed 's/[[:space:]]*$//')"
    dir="${dir:-.}"
  fi
  if [ -n "${STACK_NAME:-}" ] && [ -f "$dir/Pulumi.$STACK_NAME.yaml" ]; then
    echo "$dir/Pulumi.$STACK_NAME.yaml"
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

# The passphrase secrets provider, whatever the backend: a self-managed one was checked above.
file="$(stack_file)"
if [ -n "$file" ] && grep -q '^encryptionsalt:' "$file"; then
  case "$scheme" in
    cloud)
      if ! has_passphrase; then
        fail "$file uses the passphrase secrets provider (encryptionsalt) but $passphrase_problem: set PULUMI_CONFIG_PASSPHRASE in this job's environment secrets, even on Pulumi Cloud. See docs/pr-previews.md."
      fi
      ;;
  esac
fi

if [ "$problems" -gt 0 ]; then
  exit 1
fi
echo "Pulumi backend: $scheme"
if [ -n "${GITHUB_OUTPUT:-}" ]; then
  echo "scheme=$scheme" >> "$GITHUB_OUTPUT"
fi
