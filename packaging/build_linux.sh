#!/usr/bin/env bash
# One-folder Linux bundle: dist/agent-workbench/agent-workbench, then a smoke test that
# starts it offscreen and saves a screenshot. Needs: pip install -e .[cpu,packaging]
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PYTHON:-python}
start=$(date +%s)
"$PY" -m PyInstaller --noconfirm --clean --distpath dist --workpath build/pyinstaller \
    packaging/agent-workbench.spec
cp packaging/agent-workbench.desktop packaging/icons/agent-workbench.png dist/agent-workbench/
echo "built in $(( $(date +%s) - start )) s; size $(du -sh dist/agent-workbench | cut -f1)"
# Smoke test: the bundle opens the window offscreen and writes a screenshot.
home=$(mktemp -d)
QT_QPA_PLATFORM=offscreen AGENT_WORKBENCH_HOME="$home" \
    dist/agent-workbench/agent-workbench gui --screenshot "$home/smoke.png"
test -s "$home/smoke.png" && echo "smoke test: $home/smoke.png"
