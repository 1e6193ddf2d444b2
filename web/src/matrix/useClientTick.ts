/** A React hook that re-renders when anything the UI shows changes in the client. */

import {
  ClientEvent,
  MatrixEventEvent,
  type MatrixClient,
  RoomEvent,
  RoomMemberEvent,
  RoomStateEvent,
  UserEvent,
} from "matrix-js-sdk";
import { CryptoEvent } from "matrix-js-sdk/lib/crypto-api/index.js";
import { useEffect, useState } from "react";

const EVENTS = [
  ClientEvent.Sync,
  ClientEvent.Room,
  ClientEvent.AccountData,
  RoomEvent.Timeline,
  RoomEvent.TimelineReset,
  RoomEvent.Receipt,
  RoomEvent.Name,
  RoomEvent.MyMembership,
  RoomEvent.LocalEchoUpdated,
  RoomEvent.Redaction,
  RoomEvent.UnreadNotifications,
  RoomStateEvent.Members,
  RoomMemberEvent.Typing,
  RoomMemberEvent.Membership,
  UserEvent.Presence,
  MatrixEventEvent.Decrypted,
  MatrixEventEvent.Replaced,
  MatrixEventEvent.RelationsCreated,
  MatrixEventEvent.BeforeRedaction,
  CryptoEvent.UserTrustStatusChanged,
  CryptoEvent.KeyBackupStatus,
  CryptoEvent.DevicesUpdated,
] as const;

/** A number that changes (at most once a frame) whenever the client's visible state changes. */
export function useClientTick(client: MatrixClient): number {
  const [tick, setTick] = useState(0);
  useEffect(() => {
    let frame = 0;
    const bump = (): void => {
      if (frame) return;
      frame = requestAnimationFrame(() => {
        frame = 0;
        setTick((t) => t + 1);
      });
    };
    const emitter = client as unknown as { on(e: string, f: () => void): void; off(e: string, f: () => void): void };
    for (const e of EVENTS) emitter.on(e, bump);
    return () => {
      for (const e of EVENTS) emitter.off(e, bump);
      if (frame) cancelAnimationFrame(frame);
    };
  }, [client]);
  return tick;
}
