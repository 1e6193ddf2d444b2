/**
 * Browser notifications and the optional chime for new messages from others. Asking for
 * permission is the person's choice (a header button); the chime is off until turned on.
 */

import { type MatrixClient, type MatrixEvent, MatrixEventEvent, type Room, RoomEvent } from "matrix-js-sdk";
import { useEffect } from "react";
import { type Chime, soundEnabled } from "../lib/sound";
import { isMuted } from "./mute";

/** Notification text for an event: encrypted bodies are shown only once decrypted here. */
export function notificationBody(event: MatrixEvent): string {
  const content = event.getContent();
  if (content.msgtype === "m.image") return "sent an image";
  if (content.msgtype === "m.file" || content.msgtype === "m.video" || content.msgtype === "m.audio") return "sent a file";
  return typeof content.body === "string" ? content.body.slice(0, 140) : "sent a message";
}

/**
 * Alerts for new messages from others in rooms that are not muted, when the page is hidden or
 * the message is in another room: a browser notification (once permitted) and, when turned on,
 * the chime.
 */
export function useNotifications(client: MatrixClient, openRoomId: string | undefined, chime: Chime): void {
  useEffect(() => {
    const onTimeline = (event: MatrixEvent, room: Room | undefined, toStart: boolean | undefined, _removed: boolean, data: { liveEvent?: boolean }): void => {
      if (toStart || !data.liveEvent || !room || event.getSender() === client.getUserId()) return;
      if (event.getType() !== "m.room.message" && event.getType() !== "m.room.encrypted") return;
      if (!document.hidden && room.roomId === openRoomId) return;
      if (isMuted(client, room.roomId)) return;
      const alert = (): void => {
        if (event.getType() !== "m.room.message") return; // decrypted into something else
        if (soundEnabled()) chime.play();
        if (typeof Notification === "undefined" || Notification.permission !== "granted") return;
        const note = new Notification(event.sender?.name ?? event.getSender() ?? "Tessera", {
          body: notificationBody(event),
          tag: room.roomId,
        });
        note.onclick = () => window.focus();
      };
      // Not decrypted yet (it may not even have started): alert once it is.
      if (event.getType() === "m.room.encrypted") event.once(MatrixEventEvent.Decrypted, alert);
      else alert();
    };
    client.on(RoomEvent.Timeline, onTimeline as never);
    return () => {
      client.off(RoomEvent.Timeline, onTimeline as never);
    };
  }, [client, openRoomId, chime]);
}
