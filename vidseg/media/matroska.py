"""A Matroska stream of raw video frames, each with its own timestamp and duration, for ffmpeg's stdin.

Raw frames on a pipe carry no time, so ffmpeg would give them a constant rate;
wrapped in Matroska (one uncompressed video track, one block per frame, times
in microseconds) every frame keeps its source presentation time and duration,
for variable-rate and damaged sources too. Written here because it is a few
EBML elements: PyAV would do it, but its wheels load a GPL build of FFmpeg into
our process, and no maintained pure-Python Matroska muxer exists.
Element ids and layout: the Matroska specification (RFC 9559).
"""

from __future__ import annotations

TICK_NS = 1000  # TimestampScale: one tick is a microsecond
UNKNOWN_SIZE = b"\x01\xff\xff\xff\xff\xff\xff\xff"  # a Segment streamed without knowing its length


def _size(n: int) -> bytes:
    """EBML variable-length size: the shortest form (all ones is reserved for 'unknown')."""
    for length in range(1, 9):
        if n < (1 << (7 * length)) - 1:
            return (n | (1 << (7 * length))).to_bytes(length, "big")
    raise ValueError(f"EBML element of {n} bytes is too large")


def _element(element_id: bytes, payload: bytes) -> bytes:
    return element_id + _size(len(payload)) + payload


def _uint(element_id: bytes, value: int) -> bytes:
    return _element(element_id, value.to_bytes(max(1, (value.bit_length() + 7) // 8), "big"))


# Element ids (RFC 9559), with their length markers
EBML, EBML_VERSION, EBML_READ_VERSION = b"\x1a\x45\xdf\xa3", b"\x42\x86", b"\x42\xf7"
EBML_MAX_ID_LENGTH, EBML_MAX_SIZE_LENGTH = b"\x42\xf2", b"\x42\xf3"
DOC_TYPE, DOC_TYPE_VERSION, DOC_TYPE_READ_VERSION = b"\x42\x82", b"\x42\x87", b"\x42\x85"
SEGMENT, INFO, TIMESTAMP_SCALE, MUXING_APP, WRITING_APP = (b"\x18\x53\x80\x67", b"\x15\x49\xa9\x66", b"\x2a\xd7\xb1",
                                                         b"\x4d\x80", b"\x57\x41")
TRACKS, TRACK_ENTRY, TRACK_NUMBER, TRACK_UID, TRACK_TYPE = (b"\x16\x54\xae\x6b", b"\xae", b"\xd7", b"\x73\xc5",
                                                           b"\x83")
FLAG_LACING, CODEC_ID, VIDEO, PIXEL_WIDTH, PIXEL_HEIGHT, COLOUR_SPACE = (b"\x9c", b"\x86", b"\xe0", b"\xb0", b"\xba",
                                                                         b"\x2e\xb5\x24")
CLUSTER, TIMESTAMP, BLOCK_GROUP, BLOCK, BLOCK_DURATION = b"\x1f\x43\xb6\x75", b"\xe7", b"\xa0", b"\xa1", b"\x9b"
VIDEO_TRACK = 1  # TrackType


def header(width: int, height: int, fourcc: bytes) -> bytes:
    """EBML header, the start of a Segment of unknown size, its Info and one raw video track.

    `fourcc` names the pixel layout of every frame (e.g. b"I420": planar YUV 4:2:0).
    """
    ebml = _element(EBML, _uint(EBML_VERSION, 1) + _uint(EBML_READ_VERSION, 1) + _uint(EBML_MAX_ID_LENGTH, 4)
                    + _uint(EBML_MAX_SIZE_LENGTH, 8) + _element(DOC_TYPE, b"matroska")
                    + _uint(DOC_TYPE_VERSION, 4) + _uint(DOC_TYPE_READ_VERSION, 2))
    info = _element(INFO, _uint(TIMESTAMP_SCALE, TICK_NS) + _element(MUXING_APP, b"vidseg")
                    + _element(WRITING_APP, b"vidseg"))
    video = _element(VIDEO, _uint(PIXEL_WIDTH, width) + _uint(PIXEL_HEIGHT, height) + _element(COLOUR_SPACE, fourcc))
    track = _element(TRACK_ENTRY, _uint(TRACK_NUMBER, 1) + _uint(TRACK_UID, 1) + _uint(TRACK_TYPE, VIDEO_TRACK)
                     + _uint(FLAG_LACING, 0) + _element(CODEC_ID, b"V_UNCOMPRESSED") + video)
    return ebml + SEGMENT + UNKNOWN_SIZE + info + _element(TRACKS, track)


def frame_wrapping(time_us: int, duration_us: int, frame_bytes: int) -> tuple[bytes, bytes]:
    """The bytes that go before and after one frame's `frame_bytes` bytes on the stream.

    One Cluster per frame: its Timestamp is the frame's time (so no 16-bit
    relative time limits the gaps), and a BlockGroup gives the Block its duration.
    """
    if time_us < 0 or duration_us <= 0:
        raise ValueError(f"frame time {time_us} us and duration {duration_us} us: need time >= 0, duration > 0")
    duration = _uint(BLOCK_DURATION, duration_us)
    block_head = _size(1) + b"\x00\x00\x00"  # track 1, time relative to the Cluster's 0, no flags
    block = BLOCK + _size(len(block_head) + frame_bytes) + block_head
    group = BLOCK_GROUP + _size(len(block) + frame_bytes + len(duration)) + block
    timestamp = _uint(TIMESTAMP, time_us)
    cluster = CLUSTER + _size(len(timestamp) + len(group) + frame_bytes + len(duration))
    return cluster + timestamp + group, duration
