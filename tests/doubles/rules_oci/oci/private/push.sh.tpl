#!/usr/bin/env bash
# Test double of rules_oci v2.3.2 oci/private/push.sh.tpl (tests only).
#
# Same command line and same steps as upstream's script, with skopeo (from
# PATH) doing what upstream does with crane:
#   1. the repository: `repository` (given as a leading --repository flag),
#      else the first line of `repository_file`; a later -r/--repository wins;
#   2. push the layout's one manifest (image or index) by its digest,
#      REPOSITORY@DIGEST, unchanged (`crane push`; here `skopeo copy --all
#      --preserve-digests`), and print that reference;
#   3. tag it in the registry with every -t/--tag, then every line of
#      `remote_tags` (`crane tag`; here a registry-to-registry copy that
#      uploads no blob).
# Plain HTTP, as crane decides it (go-containerregistry pkg/name/registry.go
# Scheme()): --insecure, localhost, *.localhost, 127.0.0.1, ::1 and RFC 1918
# addresses.
set -o errexit -o nounset -o pipefail

runfiles="${RUNFILES_DIR:-$0.runfiles}"
readonly IMAGE_DIR="${runfiles}/{{image_dir}}"
readonly DIGEST_FILE="${runfiles}/{{digest_file}}"
readonly TAGS_FILE="{{tags}}"
readonly REPOSITORY_FILE="{{repository_file}}"
readonly FIXED_ARGS=({{fixed_args}})

REPOSITORY=""
if [[ -n "${REPOSITORY_FILE}" ]]; then
  REPOSITORY="$(tr -d '\n' < "${runfiles}/${REPOSITORY_FILE}")"
fi

set -- ${FIXED_ARGS[@]+"${FIXED_ARGS[@]}"} "$@"

TAGS=()
INSECURE=0
GLOBAL_FLAGS=(--insecure-policy)
while (( $# > 0 )); do
  case "$1" in
    (--insecure)
      INSECURE=1
      shift;;
    (-v|--verbose)
      GLOBAL_FLAGS+=(--debug)
      shift;;
    (--allow-nondistributable-artifacts)
      # skopeo copies every layer, non-distributable or not.
      shift;;
    (--platform)
      # crane's --platform picks from a remote index; `crane push` of a
      # layout pushes its one manifest whole, whatever the platform.
      shift 2;;
    (-t|--tag)
      TAGS+=("$2")
      shift 2;;
    (--tag=*)
      TAGS+=("${1#--tag=}")
      shift;;
    (-r|--repository)
      REPOSITORY="$2"
      shift 2;;
    (--repository=*)
      REPOSITORY="${1#--repository=}"
      shift;;
    (*)
      # Upstream hands these to `crane push`, whose only other flags
      # (--index, --image-refs) mean nothing for a one-manifest layout.
      echo "oci_push test double: argument '$1' is not supported (upstream passes it to crane push)" >&2
      exit 1;;
  esac
done

if [[ -z "${REPOSITORY}" ]]; then
  echo "ERROR: repository not set. Please pass --repository flag." >&2
  exit 1
fi

host="${REPOSITORY%%/*}"
case "${host}" in
  (localhost|localhost:*|*.localhost|*.localhost:*|127.0.0.1|127.0.0.1:*|::1|\[::1\]|\[::1\]:*|10.*|192.168.*|172.1[6-9].*|172.2[0-9].*|172.3[01].*)
    INSECURE=1;;
esac
TLS=()
if (( INSECURE )); then
  TLS=(--src-tls-verify=false --dest-tls-verify=false)
fi

DIGEST="$(tr -d '\n' < "${DIGEST_FILE}")"
REF="${REPOSITORY}@${DIGEST}"

# Every source is a layout we built or a manifest we just pushed; nothing to verify.
copy() {
  skopeo "${GLOBAL_FLAGS[@]}" copy --all --preserve-digests "${TLS[@]+"${TLS[@]}"}" "$@"
}

copy "oci:${IMAGE_DIR}" "docker://${REF}" >&2
echo "${REF}"

for tag in "${TAGS[@]+"${TAGS[@]}"}"; do
  copy "docker://${REF}" "docker://${REPOSITORY}:${tag}" >&2
done

if [[ -n "${TAGS_FILE}" ]]; then
  # One tag per word, as upstream's `xargs -n1`.
  while read -r -a words || (( ${#words[@]} )); do
    for tag in "${words[@]+"${words[@]}"}"; do
      copy "docker://${REF}" "docker://${REPOSITORY}:${tag}" >&2
    done
    words=()
  done < "${runfiles}/${TAGS_FILE}"
fi
