// The 2D avatar face both pages draw (the player at /player, the OBS overlay at /overlay/{id}): its
// SVG, and how a frame of the animation contract (track.mjs: mouth shapes, expressions, blink)
// plus a gaze moves it. `faceShapes` is pure, so node tests it; `mountFace` is the DOM side.

const SVG_NS = "http://www.w3.org/2000/svg";
const INK = "#5b4a6b";
const SKIN = [255, 224, 196];
const EMPTY_EXPRESSIONS = { happy: 0, angry: 0, sad: 0, relaxed: 0, surprised: 0, neutral: 0 };

// Presentation attributes rather than page CSS: the face looks the same on every page that mounts it.
const MARKUP = `
  <circle id="head" cx="100" cy="100" r="86" fill="rgb(${SKIN.join(",")})" stroke="${INK}" stroke-width="3"/>
  <ellipse id="cheek-left" cx="58" cy="118" rx="13" ry="8" fill="#ff7f9f" opacity="0"/>
  <ellipse id="cheek-right" cx="142" cy="118" rx="13" ry="8" fill="#ff7f9f" opacity="0"/>
  <ellipse id="eye-left" cx="70" cy="88" rx="9" ry="12" fill="#2b2233"/>
  <ellipse id="eye-right" cx="130" cy="88" rx="9" ry="12" fill="#2b2233"/>
  <line id="brow-left" x1="56" y1="66" x2="82" y2="66" stroke="${INK}" stroke-width="5" stroke-linecap="round"/>
  <line id="brow-right" x1="118" y1="66" x2="144" y2="66" stroke="${INK}" stroke-width="5" stroke-linecap="round"/>
  <path id="mouth" d="M 78 140 Q 100 140 122 140 Q 100 140 78 140 Z" fill="#8c2f46" stroke="${INK}"
        stroke-width="3" stroke-linejoin="round"/>`;

const round = (x) => Math.round(x * 1000) / 1000 + 0; // + 0: no -0 in attributes
const clamp = (x, lo, hi) => Math.min(hi, Math.max(lo, x));

/**
 * How open the mouth is (0 closed … 1.2 wide) for VRM mouth shapes: aa opens wide, oh/ou round it,
 * ih/ee spread it with little opening.
 */
export function mouthOpening(mouth) {
  return Math.min(1.2, mouth.aa + 0.8 * mouth.oh + 0.55 * mouth.ou + 0.35 * mouth.ih + 0.3 * mouth.ee);
}

/**
 * Every attribute the face needs for `frame` ({mouth, expressions, blink}, as track.mjs samples)
 * and `gaze` ({x, y} in [-1, 1]: right and up). Pure.
 */
export function faceShapes({ mouth, expressions, blink }, gaze = { x: 0, y: 0 }) {
  const e = { ...EMPTY_EXPRESSIONS, ...expressions };
  const toward = { angry: [255, 165, 150], sad: [210, 220, 242] };
  const skin = SKIN.map((c, i) => Math.round(c + e.angry * (toward.angry[i] - c) + e.sad * (toward.sad[i] - c)));
  const open = (1 - blink) * (1 - 0.45 * e.relaxed - 0.3 * e.happy) * (1 + 0.35 * e.surprised);
  const raise = 10 * e.surprised + 3 * e.sad - 3 * e.angry;
  const inner = 9 * e.angry - 8 * e.sad; // inner ends down when angry, up when sad

  const opening = mouthOpening(mouth);
  const half = 22 * (1 + 0.35 * mouth.ee + 0.25 * mouth.ih - 0.4 * mouth.ou - 0.2 * mouth.oh + 0.05 * mouth.aa);
  const smile = e.happy + 0.5 * e.relaxed - 0.8 * e.sad - 0.5 * e.angry;
  const corner = 140 - 8 * smile;
  const middle = 140 + 4 * smile;
  const lips = 1 + 26 * opening;
  const r = (x) => round(x);
  return {
    skin: `rgb(${skin.join(",")})`,
    cheekOpacity: r(0.7 * e.happy + 0.3 * e.relaxed),
    eye: { rx: r(9 * (1 + 0.15 * e.surprised)), ry: r(Math.max(0.8, 12 * open)) },
    eyeShift: { dx: r(6 * clamp(gaze.x, -1, 1)), dy: r(-5 * clamp(gaze.y, -1, 1)) },
    browLeft: [56, 66 - raise, 82, 66 - raise + inner].map(r),
    browRight: [118, 66 - raise + inner, 144, 66 - raise].map(r),
    mouth: `M ${r(100 - half)} ${r(corner)} Q 100 ${r(middle - lips)} ${r(100 + half)} ${r(corner)} ` +
      `Q 100 ${r(middle + lips)} ${r(100 - half)} ${r(corner)} Z`,
    opening: r(opening),
  };
}

/**
 * Put the face into `container` (replacing its content) and return `draw(frame, gaze)`. The SVG
 * carries the mouth opening it shows as `data-mouth-open`, for tests and debugging.
 */
export function mountFace(container, label = "The avatar's face") {
  const svg = document.createElementNS(SVG_NS, "svg");
  svg.setAttribute("id", "face");
  svg.setAttribute("viewBox", "0 0 200 200");
  svg.setAttribute("role", "img");
  svg.setAttribute("aria-label", label);
  svg.innerHTML = MARKUP;
  container.replaceChildren(svg);
  const part = (id) => svg.querySelector(`#${id}`);
  const parts = {
    head: part("head"),
    cheeks: [part("cheek-left"), part("cheek-right")],
    eyes: [part("eye-left"), part("eye-right")],
    brows: [part("brow-left"), part("brow-right")],
    mouth: part("mouth"),
  };
  const eyeCentres = [70, 130];

  return function draw(frame, gaze) {
    const shapes = faceShapes(frame, gaze);
    parts.head.setAttribute("fill", shapes.skin);
    for (const cheek of parts.cheeks) cheek.setAttribute("opacity", shapes.cheekOpacity);
    parts.eyes.forEach((eye, i) => {
      eye.setAttribute("rx", shapes.eye.rx);
      eye.setAttribute("ry", shapes.eye.ry);
      eye.setAttribute("cx", eyeCentres[i] + shapes.eyeShift.dx);
      eye.setAttribute("cy", 88 + shapes.eyeShift.dy);
    });
    [shapes.browLeft, shapes.browRight].forEach(([x1, y1, x2, y2], i) => {
      for (const [name, value] of Object.entries({ x1, y1, x2, y2 })) parts.brows[i].setAttribute(name, value);
    });
    parts.mouth.setAttribute("d", shapes.mouth);
    svg.dataset.mouthOpen = String(shapes.opening);
    return shapes;
  };
}
