/**
 * The optional sound for new messages: a short two-note chime made with Web Audio (no sound file
 * to download). Off unless the person turns it on; the choice is kept in this browser.
 */

const KEY = "tessera-sound";

export function soundEnabled(): boolean {
  return localStorage.getItem(KEY) === "on";
}

export function setSoundEnabled(on: boolean): void {
  localStorage.setItem(KEY, on ? "on" : "off");
}

/** Plays the chime. Browsers let audio start only after the person interacted with the page;
 * the context is made (or resumed) on the click that turns the sound on. */
export class Chime {
  private context: AudioContext | undefined;

  /** Call from a click handler. */
  unlock(): void {
    if (typeof AudioContext === "undefined") return;
    this.context ??= new AudioContext();
    void this.context.resume().catch(() => undefined);
  }

  play(): void {
    const ctx = this.context;
    if (!ctx || ctx.state !== "running") return;
    const start = ctx.currentTime;
    [660, 880].forEach((frequency, i) => {
      const osc = ctx.createOscillator();
      const gain = ctx.createGain();
      osc.frequency.value = frequency;
      const t = start + i * 0.12;
      gain.gain.setValueAtTime(0.0001, t);
      gain.gain.exponentialRampToValueAtTime(0.15, t + 0.02);
      gain.gain.exponentialRampToValueAtTime(0.0001, t + 0.18);
      osc.connect(gain).connect(ctx.destination);
      osc.start(t);
      osc.stop(t + 0.2);
    });
  }
}
