// Manual avatar commands (schemas/avatar.py, the `avatar.command` event) as the face applies them:
// an expression held over whatever the reply's track says, a gaze, a motion cue, a reset. Pure:
// times are seconds on any clock the caller keeps (performance.now() / 1000 on a page).

export const DEFAULT_FADE_S = 0.3; // a command without fade_s blends in and out this fast
const EMOTIONS = ["happy", "angry", "sad", "relaxed", "surprised", "neutral"];
const clamp = (x, lo, hi) => Math.min(hi, Math.max(lo, x));

export class AvatarControl {
  constructor() {
    this.expression = null; // {name, weight, durationS, fadeS, startedAt}
    this.gaze = { x: 0, y: 0 };
  }

  /**
   * Apply one command at `now`; returns the motion to show ({motion}) or null. Unknown actions and
   * malformed commands are ignored (a newer server may send what this page does not know yet).
   */
  apply(command, now) {
    if (!command || typeof command !== "object") return null;
    switch (command.action) {
      case "expression": {
        if (!EMOTIONS.includes(command.expression)) return null;
        this.expression = {
          name: command.expression,
          weight: clamp(Number(command.weight ?? 1), 0, 1),
          durationS: Number(command.duration_s ?? 2),
          fadeS: Number(command.fade_s ?? DEFAULT_FADE_S),
          startedAt: now,
        };
        return null;
      }
      case "look_at":
        this.gaze = gazeToward(command);
        return null;
      case "motion":
        return typeof command.motion === "string" ? { motion: command.motion } : null;
      case "reset":
        this.expression = null;
        this.gaze = { x: 0, y: 0 };
        return { reset: true };
      default:
        return null;
    }
  }

  /** The manual expression's weight at `now`: fades in, holds, fades out within duration_s; 0 after. */
  expressionWeight(now) {
    const held = this.expression;
    if (!held) return 0;
    const t = now - held.startedAt;
    if (t < 0 || t >= held.durationS) return 0;
    const fade = Math.min(held.fadeS, held.durationS / 2);
    if (fade <= 0) return held.weight;
    return held.weight * Math.min(1, t / fade, (held.durationS - t) / fade);
  }

  /**
   * The expressions to draw: the track's (`expressions`, a weight per emotion), with the manual one
   * on top — it takes its weight and the others give way in proportion.
   */
  blend(expressions, now) {
    const weight = this.expressionWeight(now);
    if (weight <= 0) return expressions;
    const name = this.expression.name;
    const out = {};
    for (const emotion of EMOTIONS) out[emotion] = (expressions[emotion] || 0) * (1 - weight);
    out[name] = Math.max(out[name], weight);
    return out;
  }
}

/**
 * A look_at point (metres, avatar space: +x right, +y up, +z forward) as a gaze in [-1, 1] per
 * axis: the eyes turn toward it, fully at 45° off straight ahead.
 */
export function gazeToward({ x, y, z }) {
  if (![x, y, z].every(Number.isFinite)) return { x: 0, y: 0 };
  const ahead = Math.max(Math.abs(z), 1e-3);
  return { x: clamp(x / ahead, -1, 1), y: clamp(y / ahead, -1, 1) };
}
