-- Cached copies of media from other servers (mxc://ORIGIN/MEDIA_ID), fetched over federation.
--
-- The bytes are ordinary blobs in `media_blobs` (shared with local media when the content is
-- the same); a blob stays while any of `media`, `media_thumbnails`, `remote_media` or
-- `remote_media_thumbnails` references it. `fetched_ts` is when the copy was made (the
-- unauthenticated endpoints' freeze counts remote media as new from then).
CREATE TABLE remote_media (
    origin TEXT NOT NULL,
    media_id TEXT NOT NULL,
    content_type TEXT NOT NULL,
    upload_name TEXT,
    blob_id TEXT NOT NULL,
    size BIGINT NOT NULL,
    fetched_ts BIGINT NOT NULL,
    last_access_ts BIGINT NOT NULL,
    PRIMARY KEY (origin, media_id)
);
CREATE INDEX remote_media_blob ON remote_media (blob_id);
CREATE INDEX remote_media_last_access ON remote_media (last_access_ts);

-- Thumbnails of remote media, by the size and method that was asked for (the origin chooses
-- the actual size it answers).
CREATE TABLE remote_media_thumbnails (
    origin TEXT NOT NULL,
    media_id TEXT NOT NULL,
    width INTEGER NOT NULL,
    height INTEGER NOT NULL,
    method TEXT NOT NULL,
    animated INTEGER NOT NULL,
    content_type TEXT NOT NULL,
    blob_id TEXT NOT NULL,
    size BIGINT NOT NULL,
    fetched_ts BIGINT NOT NULL,
    PRIMARY KEY (origin, media_id, width, height, method, animated)
);
CREATE INDEX remote_media_thumbnails_blob ON remote_media_thumbnails (blob_id);
