#!/usr/bin/env bash
# Rebuild the demo media from scratch (espeak-ng, sox, ffmpeg; matplotlib's public-domain photo).
set -euo pipefail
cd "$(dirname "$0")"
t=$(mktemp -d)
espeak-ng -v en-us -s 150 -w "$t/s1.wav" "I am so happy to see you today. This is wonderful news, thank you so much."
espeak-ng -v en-us -s 140 -w "$t/s2.wav" "But I am really angry about the broken window. Nobody told me anything."
espeak-ng -v en-us -s 120 -w "$t/s3.wav" "Now I just feel sad and tired."
sox "$t/s1.wav" "$t/s2.wav" "$t/s3.wav" "$t/speech.wav" pad 0 0.8
dur=$(soxi -D "$t/speech.wav")
img=$(python3 -c "import matplotlib, os; print(os.path.join(matplotlib.get_data_path(), 'sample_data', 'grace_hopper.jpg'))")
ffmpeg -y -loglevel error -loop 1 -framerate 10 -i "$img" -i "$t/speech.wav" \
  -vf "scale=-2:360,format=yuv420p" -c:v libx264 -preset slow -crf 30 -r 10 \
  -c:a aac -b:a 48k -ac 1 -ar 16000 -t "$dur" interview.mp4
ffmpeg -y -loglevel error -i "$t/speech.wav" -ar 16000 -ac 1 -c:a libopus -b:a 24k voice_note.ogg
rm -rf "$t"
