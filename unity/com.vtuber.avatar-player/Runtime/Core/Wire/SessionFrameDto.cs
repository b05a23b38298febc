// Field names are the wire's; see AnimationTrackDto.cs. An avatar command is a discriminated union on
// "action" (schemas/avatar.py AvatarCommand); JsonUtility cannot pick a class by a field, so the command
// is one flat class holding every variant's fields, read by action.
// ReSharper disable InconsistentNaming
using System;
using System.Runtime.Serialization;

namespace VTuber.Animation.Wire
{
    /// <summary>
    /// One text frame of <c>WS /v1/sessions/{id}/ws</c>: <c>{"id", "event", "data"}</c> with the event's
    /// <see cref="JobEventDto"/> as data, or a keep-alive <c>{"event": "ping"}</c> with neither id nor data.
    /// </summary>
    [Serializable]
    public sealed class SessionFrameDto
    {
        public const string Ping = "ping";

        /// <summary>The session log's entry id: strictly increasing; send the last one back as <c>after</c> to resume.</summary>
        [OptionalField] public string id;

        /// <summary>The event type (<see cref="JobEventType"/>), or <see cref="Ping"/>. Named <c>event</c> on the wire.</summary>
        public string @event;

        [OptionalField] public JobEventDto data;
    }

    /// <summary>
    /// A manual avatar command (schemas/avatar.py): <c>expression</c> (expression, weight, duration_s, fade_s),
    /// <c>motion</c> (motion), <c>look_at</c> (x, y, z in metres, avatar space: +x right, +y up, +z forward) or
    /// <c>reset</c>.
    /// </summary>
    [Serializable]
    public sealed class AvatarCommandDto
    {
        public const string Expression = "expression";
        public const string Motion = "motion";
        public const string LookAt = "look_at";
        public const string Reset = "reset";

        /// <summary>What <see cref="fade_s"/> holds when the server left it out: the client picks the fade.</summary>
        public const double NoFade = -1.0;

        public string action;

        [OptionalField] public string expression;

        // The server always sends weight and duration_s (they have defaults there, not nulls); the same
        // defaults here keep a hand-written command sensible. JsonUtility runs these initializers;
        // DataContractJsonSerializer does not, hence OnDeserializing below.
        [OptionalField] public double weight = 1.0;
        [OptionalField] public double duration_s = 2.0;

        /// <summary>Blend in/out seconds; <see cref="NoFade"/> when absent (JSON has no way to say "unset" to JsonUtility).</summary>
        [OptionalField] public double fade_s = NoFade;

        [OptionalField] public string motion;
        [OptionalField] public double x;
        [OptionalField] public double y;
        [OptionalField] public double z;

        public bool HasFade
        {
            get { return fade_s >= 0.0; }
        }

        [OnDeserializing]
        void SetDefaults(StreamingContext context)
        {
            weight = 1.0;
            duration_s = 2.0;
            fade_s = NoFade;
        }
    }
}
