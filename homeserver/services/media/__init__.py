"""The content repository: uploads, downloads, thumbnails, URL previews and the media admin jobs."""
