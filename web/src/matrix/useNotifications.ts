/**
 * Browser notifications for new messages from others, when the page is hidden or the message
 * is in another room. Asking for permission is the person's choice (a header button).
 */

import { type MatrixClient, type MatrixEvent, type Room, RoomEvent } from "matrix-js-sdk";
import { useEffect } from "react";
import { isMuted } from "./mute";

/** Notification text for an event: encrypted bodies are shown only once decrypted here. */
export function notificationBody(event: MatrixEvent): string {
  const content = event.getContent();
  if (content.msgtype === "m.image") return "sent an image";
  if (content.msgtype === "m.file" || content.msgtype === "m.video" || content.msgtype === "m.audio") return "sent a file";
  return typeof content.body === "string" ? content.body.slice(0, 140) : "sent a message";
}

export function useNotifications(client: MatrixClient, openRoomId: string | undefined): void {
  useEffect(() => {
    const onTimeline = (event: MatrixEvent, room: Room | undefined, toStart: boolean | undefined, _removed: boolean, data: { liveEvent?: boolean }): void => {
      if (toStart || !data.liveEvent || !room || typeof Notification === "undefined") return;
      if (Notification.permission !== "granted" || event.getSender() === client.getUserId()) return;
      if (event.getType() !== "m.room.message" && event.getType() !== "m.room.encrypted") return;
      if (!document.hidden && room.roomId === openRoomId) return;
      if (isMuted(client, room.roomId)) return;
      const show = (): void => {
        const note = new Notification(event.sender?.name ?? event.getSender() ?? "Tessera", {
          body: notificationBody(event),
          tag: room.roomId,
        });
        note.onclick = () => window.focus();
      };
      if (event.isBeingDecrypted() || event.getType() === "m.room.encrypted") {
        void event.getDecryptionPromise()?.then(show);
      } else show();
    };
    client.on(RoomEvent.Timeline, onTimeline as never);
    return () => {
      client.off(RoomEvent.Timeline, onTimeline as never);
    };
  }, [client, openRoomId]);
}
