using System.Collections.Generic;
using System.Text;

namespace VTuber.Animation.Wire
{
    /// <summary>One server-sent event, as dispatched at a blank line.</summary>
    public sealed class SseMessage
    {
        public SseMessage(string id, string eventType, string data)
        {
            Id = id;
            Event = eventType;
            Data = data;
        }

        /// <summary>The stream's last event id when this message ended (the spec carries it over messages without one).</summary>
        public string Id { get; private set; }

        /// <summary>The <c>event:</c> field, "message" when there was none.</summary>
        public string Event { get; private set; }

        /// <summary>Every <c>data:</c> line of the message, joined by "\n".</summary>
        public string Data { get; private set; }
    }

    /// <summary>
    /// An incremental <c>text/event-stream</c> parser (WHATWG HTML, "Server-sent events", event stream
    /// interpretation). Feed it the body in chunks of any size, as text or raw UTF-8 bytes: a chunk may end
    /// inside a line, inside a CR LF pair or inside a multi-byte character.
    /// </summary>
    public sealed class SseParser
    {
        const string DefaultEvent = "message";

        // Stateful: keeps the first bytes of a character split across chunks until the rest arrives.
        readonly Decoder _decoder = new UTF8Encoding(false, false).GetDecoder();
        readonly StringBuilder _line = new StringBuilder();
        readonly StringBuilder _data = new StringBuilder();
        char[] _chars = new char[0];
        string _eventType = "";
        bool _lastWasCr;
        bool _atStreamStart = true;

        public SseParser()
        {
            LastEventId = "";
            RetryMs = -1;
        }

        /// <summary>What to send as <c>Last-Event-ID</c> when reconnecting; empty before the server set one.</summary>
        public string LastEventId { get; private set; }

        /// <summary>The reconnection delay the server asked for with <c>retry:</c>, or -1.</summary>
        public int RetryMs { get; private set; }

        /// <summary>Parse <paramref name="count"/> UTF-8 bytes; complete messages are appended to <paramref name="messages"/>.</summary>
        public void Feed(byte[] bytes, int offset, int count, List<SseMessage> messages)
        {
            int needed = _decoder.GetCharCount(bytes, offset, count, false);
            if (_chars.Length < needed) _chars = new char[needed];
            int decoded = _decoder.GetChars(bytes, offset, count, _chars, 0, false);
            for (int i = 0; i < decoded; i++) Push(_chars[i], messages);
        }

        /// <summary>Parse already decoded text; complete messages are appended to <paramref name="messages"/>.</summary>
        public void Feed(string text, List<SseMessage> messages)
        {
            foreach (char c in text) Push(c, messages);
        }

        /// <summary>
        /// The connection closed: drop the unfinished line and message, as the spec does at end of stream.
        /// <see cref="LastEventId"/> and <see cref="RetryMs"/> stay for the next connection.
        /// </summary>
        public void EndOfStream()
        {
            _decoder.Reset();
            _line.Length = 0;
            _data.Length = 0;
            _eventType = "";
            _lastWasCr = false;
            _atStreamStart = true;
        }

        void Push(char c, List<SseMessage> messages)
        {
            if (_atStreamStart)
            {
                _atStreamStart = false;
                if (c == '\uFEFF') return; // one leading byte order mark is ignored
            }
            if (c == '\n' && _lastWasCr)
            {
                _lastWasCr = false; // the LF of a CR LF pair, maybe in the next chunk
                return;
            }
            _lastWasCr = c == '\r';
            if (c == '\r' || c == '\n')
            {
                EndLine(messages);
                return;
            }
            _line.Append(c);
        }

        void EndLine(List<SseMessage> messages)
        {
            string line = _line.ToString();
            _line.Length = 0;
            if (line.Length == 0)
            {
                Dispatch(messages);
                return;
            }
            if (line[0] == ':') return; // a comment: keep-alive pings
            int colon = line.IndexOf(':');
            string field = colon < 0 ? line : line.Substring(0, colon);
            string value = "";
            if (colon >= 0)
            {
                int start = colon + 1;
                if (start < line.Length && line[start] == ' ') start++;
                value = line.Substring(start);
            }
            Process(field, value);
        }

        void Process(string field, string value)
        {
            switch (field)
            {
                case "event":
                    _eventType = value;
                    break;
                case "data":
                    _data.Append(value).Append('\n');
                    break;
                case "id":
                    // NUL is refused so the id can always go back in a header.
                    if (value.IndexOf('\0') < 0) LastEventId = value;
                    break;
                case "retry":
                    int ms;
                    if (value.Length > 0 && IsAsciiDigits(value) && int.TryParse(value, out ms)) RetryMs = ms;
                    break;
            }
        }

        void Dispatch(List<SseMessage> messages)
        {
            if (_data.Length == 0)
            {
                _eventType = "";
                return;
            }
            _data.Length--; // the "\n" after the last data line
            string type = _eventType.Length == 0 ? DefaultEvent : _eventType;
            messages.Add(new SseMessage(LastEventId, type, _data.ToString()));
            _data.Length = 0;
            _eventType = "";
        }

        static bool IsAsciiDigits(string value)
        {
            foreach (char c in value)
            {
                if (c < '0' || c > '9') return false;
            }
            return true;
        }
    }
}
