"""Track ids in the tables: the `track_id` of a detection that belongs to no confirmed track.

A value of the detections and tracks tables (`vidseg.formats.tables`), which the tracker
writes and the exports and the tracking evaluation read. A module of its own, without
pandas or pyarrow: the tracker is imported at DAG time (`vidseg.workflow.plan`).
"""

UNTRACKED = -1  # the track id of a detection that belongs to no confirmed track
