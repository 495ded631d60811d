using Spawnlab.Labs;
using Spawnlab.Lxd;
using Spawnlab.Pool;
using Spawnlab.State;

namespace Spawnlab.Lifecycle;

public sealed partial class LabController
{
    /// <summary>
    /// `up` of a lab whose engine is LXD: its images are built in this host's pool as for any lab, everything else is
    /// the daemon's (<see cref="LxdEngine"/>).
    /// </summary>
    private async Task<UpResult> UpOnLxdAsync(LabDefinition lab, UpOptions up, CancellationToken cancellationToken)
    {
        var place = LxdEngine.PlaceOf(lab);
        if (!host.HasProgram("lxc"))
            throw new SpawnlabException($"lab {lab.Name} cannot come up: commands enter LXD instances through the lxc client, which is not installed; fix: apt-get install lxd-client");
        if (lab.Machines.Values.Any(m => m.Stages.Any(s => s.Ansible is not null)) && !host.HasProgram("ansible-playbook"))
            throw new SpawnlabException($"lab {lab.Name} cannot come up: stages of this lab run playbooks, and ansible-playbook is not installed; fix: apt-get install ansible-core (or ansible)");
        if (lab.Images.Values.Any(i => i.Bootstrap == ImageDefinition.Debootstrap) && !host.HasProgram("debootstrap"))
            throw new SpawnlabException($"lab {lab.Name} cannot come up: its images are made by debootstrap, which is not installed; fix: apt-get install debootstrap");
        var pool = await new PoolOpener(host, options.StateDirectory).OpenAsync(options.Driver, cancellationToken);
        var existing = Store.Load(lab.Name);
        if (existing is not null && existing.Lxd != place)
        {
            throw new SpawnlabException(existing.Lxd is null
                ? $"lab {lab.Name} is up on this host's systemd-nspawn; run `spawnlab down {lab.Name}` before bringing it up on LXD"
                : $"lab {lab.Name} is up on the LXD daemon of {existing.Lxd}, project {existing.Lxd.Project}; run `spawnlab down {lab.Name}` first");
        }
        var journal = new StateJournal(Store, existing ?? new LabState { Lab = lab.Name, PoolPath = pool.Root, Driver = pool.Driver.Name, Lxd = place });
        journal.Update(s =>
        {
            s.LabFile = lab.FilePath;
            s.Vars = (System.Text.Json.Nodes.JsonObject)lab.Vars.DeepClone();
        });
        Directory.CreateDirectory(Store.LogDirectory(lab.Name));
        try
        {
            await CheckHostClashesAsync(lab, journal.State, cancellationToken);
            return await new LxdEngine(host, options, progress, Store).UpAsync(lab, up, pool, journal, AnsibleInventoryAsync, cancellationToken);
        }
        catch (Exception) when (existing is null && journal.State.Objects.Count == 0 && journal.State.Machines.Count == 0)
        {
            // A new lab refused before it made anything leaves no record behind.
            Store.Delete(lab.Name);
            throw;
        }
    }
}
