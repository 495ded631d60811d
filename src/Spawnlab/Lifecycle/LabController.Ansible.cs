using Spawnlab.Ansible;

namespace Spawnlab.Lifecycle;

public sealed partial class LabController
{
    /// <summary>Where `ansible:` stages find Spawnlab's collection: a folder of the state directory, kept up to date.</summary>
    private string AnsibleCollections => Path.Combine(options.StateDirectory, "ansible", "collections");

    /// <summary>
    /// What an `ansible:` stage runs against: the lab's inventory as it is now (every machine, a connection to those
    /// running), written for this machine's stage, and the folder of collections that holds Spawnlab's connection.
    /// </summary>
    private async Task<(string Inventory, string Collections)> AnsibleInventoryAsync(LabRun run, string machine, CancellationToken cancellationToken)
    {
        await run.AnsibleReady.WaitAsync(cancellationToken);
        try
        {
            AnsibleCollection.Install(AnsibleCollections);
        }
        finally
        {
            run.AnsibleReady.Release();
        }
        var inventory = await InventoryAsync([run.Journal.Snapshot()], InventoryConnection.Spawnlab, cancellationToken);
        var file = Path.Combine(Store.LabDirectory(run.Lab.Name), "ansible", $"{machine}.inventory.yml");
        Directory.CreateDirectory(Path.GetDirectoryName(file)!);
        await File.WriteAllTextAsync(file, inventory.ToYaml(), cancellationToken);
        return (file, AnsibleCollections);
    }
}
