using Spawnlab.Images;
using Spawnlab.Labs;
using Spawnlab.Pool;

namespace Spawnlab.Lifecycle;

public sealed partial class LabController
{
    /// <summary>
    /// What `up` would do to the lab, read from the lab file, its recorded state and the pool, changing nothing: no
    /// lock, no mount, no pool made. Where the pool cannot be seen (none yet, or a loop-backed one not mounted) every
    /// image and snapshot counts as missing, and the caveat says so.
    /// </summary>
    public async Task<(UpPlan Plan, string? Caveat)> PlanUpAsync(LabDefinition lab, UpOptions up, CancellationToken cancellationToken)
    {
        var opener = new PoolOpener(host, options.StateDirectory);
        var pool = opener.Existing();
        var readable = pool is not null && await opener.IsReadableAsync(cancellationToken);
        var caveat = pool is null ? "there is no pool yet: up makes one, and bootstraps every image"
            : !readable ? $"the pool {pool.Root} is not mounted (`spawnlab pool detach` or a reboot): its images and snapshots count as missing"
            : null;
        var poolRoot = pool?.Root ?? Path.Combine(Path.GetFullPath(options.StateDirectory), "pool");
        var state = Store.Load(lab.Name);
        if (lab.Engine == LabEngine.Lxd)
        {
            // Instances and snapshots are the daemon's: asked of it (images are still built in this host's pool).
            State.LxdPlace place;
            try
            {
                place = state?.Lxd ?? Lxd.LxdEngine.PlaceOf(lab);
            }
            catch (SpawnlabException e)
            {
                place = new State.LxdPlace("", Lxd.LxdEngine.ProjectOf(lab));
                caveat = (caveat is null ? "" : caveat + "; ") + $"{e.Message}: its instances and snapshots count as missing";
            }
            var existing = await Lxd.LxdEngine.ExistingAsync(place, cancellationToken);
            if (existing is null && (place.Socket.Length > 0 || place.Remote is not null))
                caveat = (caveat is null ? "" : caveat + "; ") + $"no LXD daemon answers ({place}): its instances and snapshots count as missing";
            return (UpPlanner.Plan(lab, state, up,
                image => Path.Combine(poolRoot, "images", ImageKeys.FolderName(image, lab.Images)),
                path => path.StartsWith("lxd:", StringComparison.Ordinal) ? existing?.Contains(path) == true : readable && Directory.Exists(path),
                (machine, key) => Lxd.LxdEngine.SnapshotName(place, machine, key)), caveat);
        }
        var plan = UpPlanner.Plan(lab, state, up,
            image => Path.Combine(poolRoot, "images", ImageKeys.FolderName(image, lab.Images)),
            path => readable && Directory.Exists(path),
            (machine, key) => Path.Combine(poolRoot, "labs", lab.Name, "snapshots", machine, key));
        return (plan, caveat);
    }
}
