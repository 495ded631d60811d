# Run inside a machine by root of its user namespace, as a user's stage could: plants in the machine's root what
# must not turn Spawnlab's teardown against the host. Arguments: the lab's name, a host folder to aim at.
use strict;
use warnings;

my ($lab, $host_folder) = @ARGV;

sub directory { sysopen(my $fh, $_[0], 0x10000) or die "open $_[0]: $!"; return $fh; }    # O_RDONLY | O_DIRECTORY

# BTRFS_IOC_SUBVOL_CREATE, struct btrfs_ioctl_vol_args { __s64 fd; char name[4088]; }
sub subvolume { my $args = pack("q a4088", 0, $_[1]); ioctl(directory($_[0]), 0x5000940E, $args) or die "subvolume $_[1] in $_[0]: $!"; }

# BTRFS_IOC_SUBVOL_SETFLAGS with BTRFS_SUBVOL_RDONLY
sub read_only { my $flags = pack("Q", 2); ioctl(directory($_[0]), 0x4008941A, $flags) or die "read-only $_[0]: $!"; }

# 1. A link to the host's folder, and a subvolume whose folder's name forges a line of `btrfs subvolume list -o`
#    that names l/victim, through that link.
symlink($host_folder, "/l") or die "link: $!";
my $path = "";
for my $part ("A\nID 1 gen 1 top level 5 path labs", $lab, "machines", "m", "l") {
    $path .= "/$part";
    mkdir($path) or die "mkdir: $!";
}
subvolume($path, "victim");

# 2. A read-only subvolume that holds another.
subvolume("/", "ro");
subvolume("/ro", "inner");
read_only("/ro");

# 3. A subvolume whose name is not UTF-8, in a folder that holds links out.
mkdir("/deep") or die "mkdir: $!";
symlink("/", "/deep/up") or die "link: $!";
symlink($host_folder, "/deep/out") or die "link: $!";
subvolume("/deep", "\xff\xfe-not-utf8");
print "planted\n";
