using System.Diagnostics;
using System.Text;

namespace Berth.Registry.Tests.Infrastructure;

/// <summary>
/// A real docker-registry (Debian's distribution) on 127.0.0.1 on a free port, from a temp config and a
/// temp storage directory, optionally with htpasswd basic auth; killed and removed on dispose.
/// </summary>
public sealed class RegistryProcess : IDisposable
{
    public const string User = "berth";
    public const string Password = "s3cret-pw";

    private readonly TempDir _dir = new("berth-registry-srv-");
    private readonly Process _process;
    private readonly StringBuilder _log = new();

    public RegistryProcess(bool basicAuth = false)
    {
        var registry = Tools.Require("docker-registry", "docker-registry");
        Storage = Path.Combine(_dir.Path, "storage");
        Directory.CreateDirectory(Storage);
        var auth = "";
        if (basicAuth)
        {
            var htpasswd = Tools.Require("htpasswd", "apache2-utils");
            var line = Tools.RunOk(htpasswd, "-Bbn", User, Password).Trim();
            var file = Path.Combine(_dir.Path, "htpasswd");
            File.WriteAllText(file, line + "\n");
            auth = $"auth:\n  htpasswd:\n    realm: berth-test\n    path: {file}\n";
        }
        for (var attempt = 0; ; attempt++)
        {
            Port = Tools.FreePort();
            var config = Path.Combine(_dir.Path, "config.yml");
            File.WriteAllText(config, $"""
                version: 0.1
                log:
                  level: info
                  accesslog:
                    disabled: false
                storage:
                  filesystem:
                    rootdirectory: {Storage}
                  delete:
                    enabled: true
                http:
                  addr: 127.0.0.1:{Port}
                {auth}
                """);
            var psi = new ProcessStartInfo(registry) { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
            psi.ArgumentList.Add("serve");
            psi.ArgumentList.Add(config);
            _process = Process.Start(psi)!;
            _process.OutputDataReceived += (_, e) => { if (e.Data is not null) lock (_log) _log.AppendLine(e.Data); };
            _process.ErrorDataReceived += (_, e) => { if (e.Data is not null) lock (_log) _log.AppendLine(e.Data); };
            _process.BeginOutputReadLine();
            _process.BeginErrorReadLine();
            if (WaitReady()) return;
            Kill();
            if (attempt == 2) throw new InvalidOperationException($"docker-registry did not start on 127.0.0.1:{Port}:\n{Log}");
        }
    }

    public int Port { get; private set; }
    public string Domain => $"127.0.0.1:{Port}";
    public string Storage { get; }

    public string Log
    {
        get { lock (_log) return _log.ToString(); }
    }

    /// <summary>The data file of a blob in the registry's filesystem storage.</summary>
    public string BlobDataPath(Berth.Images.Digest digest) =>
        Path.Combine(Storage, "docker", "registry", "v2", "blobs", "sha256", digest.Hex[..2], digest.Hex, "data");

    private bool WaitReady()
    {
        using var http = new HttpClient();
        var deadline = DateTime.UtcNow.AddSeconds(15);
        while (DateTime.UtcNow < deadline && !_process.HasExited)
        {
            try
            {
                using var response = http.GetAsync($"http://{Domain}/v2/").GetAwaiter().GetResult();
                return true; // 200, or 401 with auth: either way it serves
            }
            catch (HttpRequestException)
            {
                Thread.Sleep(50);
            }
        }
        return false;
    }

    private void Kill()
    {
        try
        {
            if (!_process.HasExited) _process.Kill();
            _process.WaitForExit(5000);
        }
        catch (InvalidOperationException)
        {
        }
    }

    public void Dispose()
    {
        Kill();
        _process.Dispose();
        _dir.Dispose();
    }
}
