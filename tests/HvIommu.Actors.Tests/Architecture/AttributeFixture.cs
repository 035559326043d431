// Types that refer to each other only through attributes: NamespaceCycleTests reads them to check that the graph
// sees a typeof among an attribute's arguments, on a type, a parameter, a return value, and in an array.
namespace HvIommu.Actors.Tests.Architecture.AttributeFixture.OnType
{
    public sealed class Target;
}

namespace HvIommu.Actors.Tests.Architecture.AttributeFixture.OnParameter
{
    public sealed class Target;
}

namespace HvIommu.Actors.Tests.Architecture.AttributeFixture.OnReturn
{
    public sealed class Target;
}

namespace HvIommu.Actors.Tests.Architecture.AttributeFixture.InArray
{
    public sealed class Target;
}

namespace HvIommu.Actors.Tests.Architecture.AttributeFixture.Sizes
{
    public enum Small : byte { One = 1 }
}

namespace HvIommu.Actors.Tests.Architecture.AttributeFixture.Names
{
    [AttributeUsage(AttributeTargets.All, AllowMultiple = true)]
    public sealed class NamesAttribute(Type type) : Attribute
    {
        public Type Type { get; } = type;

        public Type[] More { get; set; } = [];

        public Sizes.Small Size { get; set; }
    }
}

namespace HvIommu.Actors.Tests.Architecture.AttributeFixture.User
{
    using HvIommu.Actors.Tests.Architecture.AttributeFixture.Names;

    [Names(typeof(OnType.Target))]
    public sealed class Uses
    {
        [return: Names(typeof(OnReturn.Target))]
        public static int Call([Names(typeof(OnParameter.Target))] int value) => value;

        [Names(typeof(int), Size = Sizes.Small.One, More = [typeof(InArray.Target)])]
        public static void Array()
        {
        }
    }
}
