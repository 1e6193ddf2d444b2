/**
 * Thumbnails for images and videos, made in the browser before sending (the spec's
 * `info.thumbnail_file` / `thumbnail_url` with `thumbnail_info`), and fetched for display.
 * A thumbnail is made only when the picture is larger than the box it is drawn into.
 */

import { fitWithin } from "../lib/format";

/** The largest thumbnail, in CSS pixels. */
export const THUMB_BOX = { w: 320, h: 240 };

export interface Thumbnail {
  blob: Blob;
  info: { w: number; h: number; mimetype: string; size: number };
}

function draw(source: CanvasImageSource, w: number, h: number, type: string): Promise<Thumbnail | undefined> {
  const size = fitWithin(w, h, THUMB_BOX.w, THUMB_BOX.h);
  if (!size) return Promise.resolve(undefined);
  const canvas = document.createElement("canvas");
  canvas.width = size.w;
  canvas.height = size.h;
  canvas.getContext("2d")?.drawImage(source, 0, 0, size.w, size.h);
  const mimetype = type === "image/png" ? "image/png" : "image/jpeg";
  return new Promise((resolve) =>
    canvas.toBlob((blob) => resolve(blob ? { blob, info: { ...size, mimetype, size: blob.size } } : undefined), mimetype, 0.8),
  );
}

/** A thumbnail of an image file, or undefined when it is small already or cannot be read. */
export async function imageThumbnail(file: File): Promise<Thumbnail | undefined> {
  try {
    const bitmap = await createImageBitmap(file);
    try {
      return await draw(bitmap, bitmap.width, bitmap.height, file.type);
    } finally {
      bitmap.close();
    }
  } catch {
    return undefined;
  }
}

/** A frame near the start of a video as its thumbnail, with the video's size and duration. */
export async function videoThumbnail(file: File): Promise<{ thumb?: Thumbnail; w: number; h: number; duration: number } | undefined> {
  const url = URL.createObjectURL(file);
  const video = document.createElement("video");
  video.muted = true;
  video.preload = "auto";
  try {
    await new Promise<void>((resolve, reject) => {
      video.onloadeddata = () => resolve();
      video.onerror = () => reject(new Error("unreadable video"));
      video.src = url;
    });
    await new Promise<void>((resolve) => {
      video.onseeked = () => resolve();
      video.currentTime = Math.min(0.1, (video.duration || 0) / 2);
    });
    const meta = { w: video.videoWidth, h: video.videoHeight, duration: Math.round((video.duration || 0) * 1000) };
    const thumb = await draw(video, video.videoWidth, video.videoHeight, "image/jpeg");
    return { ...meta, thumb };
  } catch {
    return undefined;
  } finally {
    URL.revokeObjectURL(url);
  }
}
