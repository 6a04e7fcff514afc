#!/usr/bin/env bash
# Test stand-in for rules_python's stage-1 launcher of --bootstrap_impl=script
# (python/private/stage1_bootstrap_template.sh, rules_python 2.3.2): the same
# first line and the same substituted variable lines, which pycross_image
# reads; the rest is a short runfiles-tree-only launcher of our own. An image
# never runs it (py_image replaces it, docs/images.md "Script bootstrap").

set -e

# runfiles-root-relative
STAGE2_BOOTSTRAP="%stage2_bootstrap%"

# runfiles-root-relative venv interpreter (or an absolute path, or a name)
PYTHON_BINARY='%python_binary%'
PYTHON_BINARY_ACTUAL="%python_binary_actual%"

IS_ZIPFILE="0"
RECREATE_VENV_AT_RUNTIME="0"
RESOLVE_PYTHON_BINARY_AT_RUNTIME="0"
VENV_REL_SITE_PACKAGES="%venv_rel_site_packages%"

declare -a INTERPRETER_ARGS_FROM_TARGET=(
%interpreter_args%
)

if [[ -z "${RUNFILES_DIR:-}" ]]; then
  RUNFILES_DIR="$(cd "$(dirname "$0")" && pwd)/$(basename "$0").runfiles"
fi
case "$PYTHON_BINARY" in
  /*) python_exe="$PYTHON_BINARY" ;;
  */*) python_exe="$RUNFILES_DIR/$PYTHON_BINARY" ;;
  *) python_exe="$PYTHON_BINARY" ;;
esac
declare -a interpreter_args=()
if [[ -n "${RULES_PYTHON_ADDITIONAL_INTERPRETER_ARGS:-}" ]]; then
  read -r -a interpreter_args <<< "$RULES_PYTHON_ADDITIONAL_INTERPRETER_ARGS"
  unset RULES_PYTHON_ADDITIONAL_INTERPRETER_ARGS
fi
export RUNFILES_DIR
export PYTHONSAFEPATH="${PYTHONSAFEPATH-1}"
exec "$python_exe" "${interpreter_args[@]}" "${INTERPRETER_ARGS_FROM_TARGET[@]}" \
  "$RUNFILES_DIR/$STAGE2_BOOTSTRAP" "$@"
