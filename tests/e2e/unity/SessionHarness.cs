// Runs the package's SessionChannelClient (with UnityEngineStub.cs) and the core's SessionPlayer against a
// live API, the way SessionAvatar wires them in Unity, and reports each step as one JSON line on stdout.
// stdin commands: "drop" (the connection dies as after a silent spell: abandon it, reconnect with after=),
// "quit". Usage: mono SessionHarness.exe <base url> <api key> <session id>
using System;
using System.Collections.Concurrent;
using System.Globalization;
using System.Net;
using System.Reflection;
using System.Text;
using System.Threading;
using VTuber.Animation;
using VTuber.Animation.Wire;
using VTuber.AvatarPlayer;

static class SessionHarness
{
    const BindingFlags Private = BindingFlags.NonPublic | BindingFlags.Instance;

    static int Main(string[] args)
    {
        string baseUrl = args[0], key = args[1], session = args[2];
        var client = new SessionChannelClient();
        typeof(SessionChannelClient).GetField("baseUrl", Private).SetValue(client, baseUrl);
        typeof(SessionChannelClient).GetField("apiKey", Private).SetValue(client, key);
        MethodInfo update = typeof(SessionChannelClient).GetMethod("Update", Private);
        var stage = new Stage(baseUrl, key);
        var player = new SessionPlayer<string>(stage, stage);
        stage.Player = player;
        bool gaveUp = false;
        client.Connected += () => Emit("connected", "resume", client.Channel.ResumeId);
        client.GaveUp += problem =>
        {
            Emit("gave_up", "problem", problem);
            gaveUp = true;
        };
        client.EventReceived += e =>
        {
            Emit("event", "id", client.Channel.ResumeId, "type", e.type, "job", e.job_id);
            player.Apply(e);
        };
        var commands = new BlockingCollection<string>();
        new Thread(() =>
        {
            string line;
            while ((line = Console.ReadLine()) != null) commands.Add(line.Trim());
            commands.Add("quit");
        }) { IsBackground = true }.Start();

        client.Connect(session);
        bool heard = false;
        while (!gaveUp)
        {
            update.Invoke(client, null); // Unity's frame
            if (client.Channel.HeardSinceOpened != heard)
            {
                heard = !heard;
                if (heard) Emit("heard"); // a first frame (a ping) on this connection: the server is serving it
            }
            string command;
            if (commands.TryTake(out command, 10))
            {
                if (command == "quit") break;
                if (command == "drop")
                {
                    // What the silence watchdog does with a dead connection.
                    typeof(SessionChannelClient).GetMethod("Abandon", Private).Invoke(client, null);
                    typeof(SessionChannelClient).GetMethod("OnClosed", Private).Invoke(client, new object[] { 1006 });
                    Emit("dropped", "resume", client.Channel.ResumeId);
                }
            }
        }
        Emit("summary", "duplicates", client.Channel.DuplicateCount.ToString(CultureInfo.InvariantCulture),
            "malformed", client.Channel.MalformedCount.ToString(CultureInfo.InvariantCulture));
        client.Disconnect();
        return gaveUp ? 2 : 0;
    }

    static void Emit(string kind, params string[] pairs)
    {
        var json = new StringBuilder("{\"kind\":" + Quote(kind));
        for (int i = 0; i + 1 < pairs.Length; i += 2) json.Append("," + Quote(pairs[i]) + ":" + Quote(pairs[i + 1]));
        Console.WriteLine(json.Append("}").ToString());
        Console.Out.Flush();
    }

    static string Quote(string text)
    {
        if (text == null) return "null";
        var quoted = new StringBuilder("\"");
        foreach (char c in text)
        {
            if (c == '"' || c == '\\') quoted.Append('\\').Append(c);
            else if (c < ' ') quoted.Append("\\u").Append(((int)c).ToString("x4"));
            else quoted.Append(c);
        }
        return quoted.Append('"').ToString();
    }

    static string Number(double value)
    {
        return value.ToString("R", CultureInfo.InvariantCulture);
    }

    /// <summary>SessionAvatar's part: downloads for real (synchronously, like a cache), logs the rest.</summary>
    sealed class Stage : ISessionStage<string>, IAvatarControl
    {
        readonly string _baseUrl;
        readonly string _key;
        public SessionPlayer<string> Player;

        public Stage(string baseUrl, string key)
        {
            _baseUrl = baseUrl;
            _key = key;
        }

        public void Fetch(SegmentDownload download)
        {
            var url = new Uri(new Uri(_baseUrl), download.Url);
            using (var web = new WebClient())
            {
                web.Headers.Add("Authorization", "Bearer " + _key);
                byte[] audio = web.DownloadData(url);
                string riff = audio.Length >= 12 ? Encoding.ASCII.GetString(audio, 0, 4) + Encoding.ASCII.GetString(audio, 8, 4) : "";
                Emit("fetched", "job", download.JobId, "index", download.Index.ToString(CultureInfo.InvariantCulture), "format", riff,
                    "bytes", audio.Length.ToString(CultureInfo.InvariantCulture));
            }
            Player.AudioArrived(download, download.JobId + "/" + download.Index);
        }

        public void Play(int sequence, string audio, AnimationTrack track)
        {
            string problems = track == null ? "" : string.Join("; ", TrackValidator.Problems(track).ToArray());
            Emit("play", "sequence", sequence.ToString(CultureInfo.InvariantCulture), "audio", audio, "track", track == null ? "later" : "with",
                "problems", problems);
        }

        public void AttachTrack(int sequence, AnimationTrack track)
        {
            Emit("track", "sequence", sequence.ToString(CultureInfo.InvariantCulture), "problems", string.Join("; ", TrackValidator.Problems(track).ToArray()));
        }

        public void DropFrom(int sequence)
        {
            Emit("drop", "sequence", sequence.ToString(CultureInfo.InvariantCulture));
        }

        public void SetExpression(ExpressionCue cue)
        {
            Emit("command", "line", "expression " + cue.Expression + " " + Number(cue.Weight) + " for " + Number(cue.DurationS) + " fade " + Number(cue.FadeS));
        }

        public void TriggerMotion(string motion)
        {
            Emit("command", "line", "motion " + motion);
        }

        public void LookAt(double x, double y, double z)
        {
            Emit("command", "line", "look at " + Number(x) + " " + Number(y) + " " + Number(z));
        }

        public void ResetPose()
        {
            Emit("command", "line", "reset");
        }
    }
}
