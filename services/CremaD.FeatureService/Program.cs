var builder = WebApplication.CreateBuilder(args);
builder.AddCremaDFeatureService();
var app = builder.Build();
app.MapDefaultEndpoints();
app.Run();
