using System;
using System.Collections.Concurrent;
using System.IO;
using System.Net.WebSockets;
using System.Text;
using System.Threading;
using System.Threading.Tasks;
using UnityEngine;
using VTuber.Animation;
using VTuber.Animation.Wire;

namespace VTuber.AvatarPlayer
{
    /// <summary>
    /// Stays subscribed to a session's channel (<c>WS /v1/sessions/{id}/ws</c>) and raises <see cref="EventReceived"/>
    /// on the main thread for every new event of the session, in order, exactly once: reconnects after a drop with
    /// the last event id (<c>after</c>), with a growing delay while the server stays away, and gives up only when the
    /// server refuses the key or the session. Pings and duplicates never reach the handlers.
    /// </summary>
    /// <remarks>
    /// The socket (<see cref="ClientWebSocket"/>) runs on the thread pool and only queues what it receives; all the
    /// protocol (<see cref="SessionChannel"/>) runs in <c>Update</c>. Not for WebGL builds, whose player has no
    /// ClientWebSocket.
    /// </remarks>
    [AddComponentMenu("VTuber/Session Channel Client")]
    public sealed class SessionChannelClient : MonoBehaviour
    {
        [Tooltip("The API's base URL, e.g. http://localhost:8000 (https becomes wss).")]
        [SerializeField] string baseUrl = "http://localhost:8000";

        [Tooltip("An API key allowed to read the session; sent as ?access_token= (browsers and sockets send no headers).")]
        [SerializeField] string apiKey = "";

        [Tooltip("The session to follow; empty: call Connect(sessionId) from code.")]
        [SerializeField] string sessionId = "";

        [SerializeField] bool connectOnStart = true;

        [Tooltip("A connection silent this long is taken for dead (the server pings every 15 s by default).")]
        [SerializeField, Range(5, 120)] int silenceSeconds = 40;

        [SerializeField, Range(0.1f, 10f)] float firstRetrySeconds = 0.5f;
        [SerializeField, Range(1f, 300f)] float maxRetrySeconds = 30f;

        enum Kind
        {
            Opened,
            Frame,
            Closed,
        }

        // What the socket thread hands the main thread; Connection tells an abandoned socket's leftovers apart.
        struct Incoming
        {
            public int Connection;
            public Kind Kind;
            public string Text;
            public int CloseCode;
        }

        const int AbnormalClosure = 1006;

        readonly ConcurrentQueue<Incoming> _incoming = new ConcurrentQueue<Incoming>();
        CancellationTokenSource _cancel;
        int _connection;
        bool _active; // a socket is connecting or open
        bool _wanted; // Connect was called and nothing gave up since
        float _lastHeard;
        float _reconnectAt = -1f;

        /// <summary>A new event of the session (a frame's <c>data</c>), on the main thread.</summary>
        public event Action<JobEventDto> EventReceived;

        /// <summary>The server accepted a connection (the first, or a reconnect).</summary>
        public event Action Connected;

        /// <summary>The server refused the key or the session: no more reconnects. The text says why.</summary>
        public event Action<string> GaveUp;

        /// <summary>The protocol state: the resume id, counts of duplicates and malformed frames.</summary>
        public SessionChannel Channel { get; private set; }

        public string BaseUrl
        {
            get { return baseUrl; }
            set { baseUrl = value; }
        }

        public string ApiKey
        {
            get { return apiKey; }
            set { apiKey = value; }
        }

        public string SessionId
        {
            get { return sessionId; }
        }

        /// <summary>Connect to the Session Id field's session in Start. Off when code calls <see cref="Connect"/>.</summary>
        public bool ConnectOnStart
        {
            get { return connectOnStart; }
            set { connectOnStart = value; }
        }

        void Start()
        {
            if (connectOnStart && !string.IsNullOrEmpty(sessionId)) Connect(sessionId);
        }

        /// <summary>Follow <paramref name="session"/> from now on (the turns in progress first), instead of any other.</summary>
        public void Connect(string session)
        {
            Disconnect();
            sessionId = session;
            Channel = new SessionChannel(baseUrl, session, apiKey, JsonUtility.FromJson<SessionFrameDto>,
                new ReconnectBackoff(firstRetrySeconds, Math.Max(firstRetrySeconds, maxRetrySeconds)));
            _wanted = true;
            Open();
        }

        /// <summary>Close the connection and stop reconnecting.</summary>
        public void Disconnect()
        {
            _wanted = false;
            _reconnectAt = -1f;
            Abandon();
        }

        void OnDestroy()
        {
            Disconnect();
        }

        void Open()
        {
            _connection++;
            _active = true;
            _lastHeard = Time.realtimeSinceStartup;
            _cancel = new CancellationTokenSource();
            string url = Channel.ConnectUrl();
            int connection = _connection;
            CancellationToken token = _cancel.Token;
            Task.Run(() => Receive(url, connection, token));
        }

        // The running socket's leftovers are ignored from now on (another connection number).
        void Abandon()
        {
            _connection++;
            _active = false;
            if (_cancel == null) return;
            _cancel.Cancel();
            _cancel.Dispose();
            _cancel = null;
        }

        void Update()
        {
            Incoming item;
            while (_incoming.TryDequeue(out item))
            {
                if (item.Connection != _connection) continue;
                switch (item.Kind)
                {
                    case Kind.Opened:
                        Channel.Opened();
                        _lastHeard = Time.realtimeSinceStartup;
                        if (Connected != null) Connected();
                        break;
                    case Kind.Frame:
                        _lastHeard = Time.realtimeSinceStartup;
                        SessionFrameDto frame;
                        if (Channel.Receive(item.Text, out frame) == FrameKind.Event && EventReceived != null) EventReceived(frame.data);
                        break;
                    case Kind.Closed:
                        _active = false;
                        OnClosed(item.CloseCode);
                        break;
                }
            }
            if (_active && Time.realtimeSinceStartup - _lastHeard > silenceSeconds)
            {
                Debug.LogWarning("SessionChannelClient: no frame for " + silenceSeconds + " s; reconnecting", this);
                Abandon();
                OnClosed(AbnormalClosure);
            }
            if (_wanted && !_active && _reconnectAt >= 0f && Time.realtimeSinceStartup >= _reconnectAt)
            {
                _reconnectAt = -1f;
                Open();
            }
        }

        void OnClosed(int closeCode)
        {
            if (!_wanted) return;
            double delay;
            if (Channel.Closed(closeCode, out delay) == CloseVerdict.GiveUp)
            {
                _wanted = false;
                Debug.LogError("SessionChannelClient: " + Channel.Problem, this);
                if (GaveUp != null) GaveUp(Channel.Problem);
                return;
            }
            _reconnectAt = Time.realtimeSinceStartup + (float)delay;
        }

        // Thread pool: connect, queue every complete text message, report the close code (1006 for a drop).
        async Task Receive(string url, int connection, CancellationToken token)
        {
            int closeCode = AbnormalClosure;
            using (var socket = new ClientWebSocket())
            {
                try
                {
                    await socket.ConnectAsync(new Uri(url), token).ConfigureAwait(false);
                    _incoming.Enqueue(new Incoming { Connection = connection, Kind = Kind.Opened });
                    var buffer = new byte[16 * 1024];
                    var message = new MemoryStream();
                    while (!token.IsCancellationRequested)
                    {
                        WebSocketReceiveResult result = await socket.ReceiveAsync(new ArraySegment<byte>(buffer), token).ConfigureAwait(false);
                        if (result.MessageType == WebSocketMessageType.Close)
                        {
                            closeCode = result.CloseStatus.HasValue ? (int)result.CloseStatus.Value : 1005;
                            await socket.CloseOutputAsync(WebSocketCloseStatus.NormalClosure, "", CancellationToken.None).ConfigureAwait(false);
                            break;
                        }
                        message.Write(buffer, 0, result.Count);
                        if (!result.EndOfMessage) continue;
                        if (result.MessageType == WebSocketMessageType.Text)
                        {
                            string text = Encoding.UTF8.GetString(message.GetBuffer(), 0, (int)message.Length);
                            _incoming.Enqueue(new Incoming { Connection = connection, Kind = Kind.Frame, Text = text });
                        }
                        message.SetLength(0);
                    }
                }
                catch (OperationCanceledException)
                {
                    // Abandoned: nobody reads what follows.
                }
                catch (WebSocketException)
                {
                    // Refused or dropped: reported as 1006 below, and the backoff decides when to try again.
                }
                catch (Exception e) // anything else on this thread would vanish unobserved; the reconnect still follows
                {
                    Debug.LogException(e);
                }
            }
            _incoming.Enqueue(new Incoming { Connection = connection, Kind = Kind.Closed, CloseCode = closeCode });
        }
    }
}
