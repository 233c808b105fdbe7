#!/usr/bin/env bash
# Runs the issue-4 suites one after another (nice'd); finished fold runs are reused, so the
# queue can be interrupted and restarted. Pass 1 skips the fine-tuned text encoders (LoRA),
# pass 2 runs each suite whole (re-aggregating the reused runs) and updates docs/benchmarks.md.
set -u
cd "$(dirname "$0")/.."
A=".venv/bin/affect"
LOG=benchmarks/logs; mkdir -p "$LOG"
for s in ${PASS1:-mosi meld iemocap emodb ckplus mosei ravdess tess urdu emovo goemotions fer2013}; do
  echo "== pass1 $s $(date -u +%H:%M:%S)"
  nice -n 10 $A benchmark "$s" --seeds 3 --skip text.minilm_ft --docs docs/benchmarks.md -q > "$LOG/$s.pass1.log" 2>&1 || echo "   failed: see $LOG/$s.pass1.log"
done
for s in ${PASS2:-mosi iemocap meld mosei goemotions}; do
  echo "== pass2 $s $(date -u +%H:%M:%S)"
  nice -n 10 $A benchmark "$s" --seeds 3 --docs docs/benchmarks.md -q > "$LOG/$s.pass2.log" 2>&1 || echo "   failed: see $LOG/$s.pass2.log"
done
