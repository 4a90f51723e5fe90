"""FaCo-Net, MODA's facial composer (docs/moda.md, "FaCo-Net"): lips + eyes + subject → dense 478×3 mesh offsets."""

from talkzoo.zoo.faconet.networks import FaCoGenerator, PointDiscriminator, mlp

__all__ = ["FaCoGenerator", "PointDiscriminator", "mlp"]
