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

# As upstream, the fixed and the given arguments are expanded unquoted before
# the flags are read: each is split at whitespace (and globbed), so
# `--tag "a b"` is three words (tag `a`, then `b`, a third argument to crane).
words=()
for arg in ${FIXED_ARGS[@]+"${FIXED_ARGS[@]}"} "$@"; do
  # shellcheck disable=SC2206 # the splitting is the point
  words+=(${arg})
done
set -- ${words[@]+"${words[@]}"}

# A flag whose value is missing: upstream stops at `$2` with bash's
# "unbound variable"; here the same stop says which flag.
value_of() {
  if (( $2 < 2 )); then
    echo "ERROR: $1 needs a value" >&2
    exit 1
  fi
}

# crane's bool flags also take `--flag=<bool>` (Go's strconv.ParseBool).
bool_of() {
  case "${1#*=}" in
    (1|t|T|true|TRUE|True) echo 1;;
    (0|f|F|false|FALSE|False) echo 0;;
    (*)
      echo "Error: invalid argument \"${1#*=}\" for \"${1%%=*}\" flag: strconv.ParseBool: parsing \"${1#*=}\": invalid syntax" >&2
      exit 1;;
  esac
}

TAGS=()
INSECURE=0
INDEX=0
GLOBAL_FLAGS=(--insecure-policy)
CRANE_ARGS=()  # what upstream hands to `crane push`, in order
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
      value_of "$1" $#
      shift 2;;
    (-t|--tag)
      value_of "$1" $#
      TAGS+=("$2")
      shift 2;;
    (--tag=*)
      TAGS+=("${1#--tag=}")
      shift;;
    (-r|--repository)
      value_of "$1" $#
      REPOSITORY="$2"
      shift 2;;
    (--repository=*)
      REPOSITORY="${1#--repository=}"
      shift;;
    (*)
      CRANE_ARGS+=("$1")
      shift;;
  esac
done

# `crane push <flags> IMAGE_DIR REF <CRANE_ARGS> --image-refs <temp file>`, read
# as crane (go-containerregistry v0.18.0, the crane rules_oci v2.3.2 fetches)
# reads it: push's own flags --index and --image-refs, the global flags in
# their `=` spellings; a flag crane does not know or a third argument fails
# before anything is pushed.
positional=2
set -- ${CRANE_ARGS[@]+"${CRANE_ARGS[@]}"} --image-refs "crane's temp file"
while (( $# > 0 )); do
  case "$1" in
    (--)
      positional=$(( positional + $# - 1 ))
      break;;
    (--index)
      INDEX=1
      shift;;
    (--index=*)
      INDEX="$(bool_of "$1")"
      shift;;
    (--image-refs)
      # Upstream's own `--image-refs <temp file>` comes last and wins: crane
      # never writes a file given here.
      value_of "$1" $#
      shift 2;;
    (--image-refs=*)
      shift;;
    (--insecure=*)
      INSECURE="$(bool_of "$1")"
      shift;;
    (--verbose=*|-v=*)
      verbose="$(bool_of "$1")"
      if (( verbose )); then GLOBAL_FLAGS+=(--debug); fi
      shift;;
    (--allow-nondistributable-artifacts=*)
      bool_of "$1" >/dev/null
      shift;;
    (--platform=*)
      shift;;
    (-h|--help)
      echo "oci_push test double: crane push $1 prints crane's help; not emulated" >&2
      exit 1;;
    (--*)
      echo "Error: unknown flag: ${1%%=*}" >&2
      exit 1;;
    (-?*)
      echo "Error: unknown shorthand flag: '${1:1:1}' in $1" >&2
      exit 1;;
    (*)
      positional=$(( positional + 1 ))
      shift;;
  esac
done
if (( positional != 2 )); then
  echo "Error: accepts 2 arg(s), received ${positional}" >&2
  exit 1
fi

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
if (( INDEX )); then
  # `crane push --index` pushes the layout's index.json itself, after the
  # manifest it lists, under REF: its digest is not DIGEST, so the registry
  # refuses it and crane fails.
  echo "Error: PUT ${REF}: DIGEST_INVALID: provided digest did not match uploaded content" >&2
  exit 1
fi
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
