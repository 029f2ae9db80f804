"""Media: video in and out. ffmpeg/ffprobe, probing, frame extraction and reading, Matroska, encoders and
encoding, drawing masks (render, rle), the annotate stage, the sample video and the synthetic demo videos.

Layer 2 (beside vidseg.formats and vidseg.maskrcnn): may import vidseg.core only.
"""
