using System.Collections.Generic;
using UnityEngine;
using UnityEngine.Networking;
using VTuber.Animation.Wire;

namespace VTuber.AvatarPlayer
{
    /// <summary>
    /// Streams a <c>text/event-stream</c> body into an <see cref="SseParser"/> as it arrives; the default
    /// buffer handler would hand nothing over until the server closes the connection, i.e. the turn ends.
    /// </summary>
    /// <remarks>Unity calls <see cref="ReceiveData"/> on the main thread, once per frame at most, so no locking.</remarks>
    sealed class EventStreamHandler : DownloadHandlerScript
    {
        readonly SseParser _parser;
        readonly List<SseMessage> _messages = new List<SseMessage>();

        // One reused buffer: the parser decodes each chunk before the next one overwrites it.
        public EventStreamHandler(SseParser parser) : base(new byte[8192])
        {
            _parser = parser;
            LastReceived = Time.realtimeSinceStartup;
        }

        /// <summary>When bytes last came in (<c>Time.realtimeSinceStartup</c>): keep-alive pings count.</summary>
        public float LastReceived { get; private set; }

        /// <summary>Move the messages completed since the last call into <paramref name="into"/>.</summary>
        public void Take(List<SseMessage> into)
        {
            into.AddRange(_messages);
            _messages.Clear();
        }

        protected override bool ReceiveData(byte[] data, int dataLength)
        {
            if (data == null || dataLength < 1) return true;
            _parser.Feed(data, 0, dataLength, _messages);
            LastReceived = Time.realtimeSinceStartup;
            return true;
        }
    }
}
